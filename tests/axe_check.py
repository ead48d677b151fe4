"""axe-core in a Playwright page: `assert_accessible(page, label)` fails on any serious or critical
WCAG 2.1 A/AA violation, naming each rule, the elements it found and where its help is.

axe-core comes from the npm registry (.ci/run: `npm install --no-save --prefix tests/.npm axe-core@4`).
Pages send a Content-Security-Policy without inline scripts: in a context opened with `bypass_csp=True`
(`new_context` below) axe goes in as a script tag; in any other context the policy refuses the tag and
axe is evaluated through the devtools protocol instead, which the policy does not govern."""
import os

import pytest

AXE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '.npm', 'node_modules', 'axe-core', 'axe.min.js')
TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']
BLOCKING = ('serious', 'critical')


def require_axe():
    if os.path.exists(AXE):
        return
    if os.environ.get('CI'):
        pytest.fail('CI must install axe-core (see .ci/run)')
    pytest.skip('needs axe-core: npm install --no-save --prefix tests/.npm axe-core@4')


def new_context(browser, width, height):
    """A browser context at this viewport where axe can be injected into the node's pages."""
    return browser.new_context(viewport={'width': width, 'height': height}, bypass_csp=True)


def violations(page):
    """The serious and critical violations axe finds in the page as it is now."""
    require_axe()
    if not page.evaluate('() => typeof window.axe === "object"'):
        inject(page)
    found = page.evaluate('tags => axe.run(document, {runOnly: {type: "tag", values: tags}})'
                          '.then(r => r.violations)', TAGS)
    return [rule for rule in found if rule['impact'] in BLOCKING]


def inject(page):
    from playwright.sync_api import Error
    try:
        page.add_script_tag(path=AXE)
    except Error:                    # the page's CSP refused an inline script
        with open(AXE, encoding='utf-8') as fh:
            page.evaluate(fh.read())


def report(rules):
    """One paragraph per rule: its id and impact, its help and link, and the elements it failed on."""
    lines = []
    for rule in rules:
        lines.append('%s (%s): %s <%s>' % (rule['id'], rule['impact'], rule['help'], rule['helpUrl']))
        for node in rule['nodes'][:8]:
            lines.append('    %s: %s' % (' '.join(node['target']), node['failureSummary'].replace('\n', ' ')))
    return '\n'.join(lines)


def assert_accessible(page, label):
    """No serious or critical WCAG 2.1 AA violation in `page`; `label` names the page in the failure."""
    found = violations(page)
    assert not found, 'axe-core on %s (%s):\n%s' % (label, page.url, report(found))
