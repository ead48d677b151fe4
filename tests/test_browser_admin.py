"""The admin pages in a real browser against a real `serve`: a key issued, pasted back as a peer and synced,
a user's reset link used in a fresh browser; each admin page photographed at 1280 and 360 px wide
(into /tmp/shots-admin/) and checked to fit the narrow screen without sideways scrolling."""
import os
import re

import pytest
from test_browser import ARGS, CHROMIUM, ROOT, browser, cli, home_config, require_tools, served  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = '/tmp/shots-admin'
WIDTHS = ((1280, 800), (360, 740))


@pytest.fixture
def node_url(tmp_path):
    require_tools()
    config, port = home_config(tmp_path)
    cli(config, 'user', 'add', 'admin', '--admin', '--password-stdin', stdin='admin-password\n')
    cli(config, 'user', 'add', 'grandma', '--password-stdin', stdin='grandma-password\n')
    cli(config, 'group', 'add', 'family', '--allow', 'tag:family', 'album:2024 Summer trip')
    with served(config, port) as base:
        yield base


def sign_in(context, base, name, password):
    page = context.new_page()
    page.goto(base + '/login')
    page.fill('input[name=username]', name)
    page.fill('input[name=password]', password)
    page.click('button[type=submit]')
    page.wait_for_url(base + '/')
    return page


def shoot(page, name, width):
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, '%s-%d.png' % (name, width)), full_page=True)
    if width == 360:
        overflow = page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
        assert overflow <= 0, '%s scrolls sideways by %d px at 360 px' % (name, overflow)


def test_admin_pages_in_a_browser(node_url, browser):
    context = browser.new_context(viewport={'width': 1280, 'height': 800})
    admin = sign_in(context, node_url, 'admin', 'admin-password')
    # a key, its line pasted back as a peer of this same node, and a sync of it
    admin.goto(node_url + '/admin/keys')
    admin.fill('form[action="/admin/keys"] input[name=name]', 'home')
    admin.fill('form[action="/admin/keys"] input[name=rules]', 'tag:family')
    admin.click('text=Issue key')
    assert admin.is_visible('#unreachable')
    line = admin.inner_text('#peer-line')
    assert re.fullmatch(r'privtube peer add home http://127\.0\.0\.1:\d+ --key pt_\S+', line)
    admin.goto(node_url + '/admin/peers')
    admin.fill('input[name=line]', line.replace('add home', 'add mirror'))
    admin.click('text=Add peer')
    assert 'Peer mirror added' in admin.inner_text('main')
    admin.click('form[action="/admin/peers/mirror/sync"] button')
    admin.wait_for_selector('text=Synced mirror')
    assert admin.get_attribute('nav.tabs a[href="/admin/peers"]', 'aria-current') == 'page'
    # a reset link, opened in a fresh browser
    admin.goto(node_url + '/admin/users/grandma')
    admin.click('text=Make a reset link')
    link = admin.inner_text('#reset-link')
    fresh = browser.new_context(viewport={'width': 360, 'height': 740}).new_page()
    fresh.goto(link)
    fresh.fill('input[name=password]', 'a-new-password')
    fresh.fill('input[name=again]', 'a-new-password')
    fresh.click('text=Set password')
    assert 'Password changed' in fresh.inner_text('main')
    shoot(fresh, 'reset-done', 360)
    # every admin page, wide and narrow
    pages = {'users': '/admin/users', 'user': '/admin/users/grandma', 'groups': '/admin/groups',
             'group': '/admin/groups/family', 'keys': '/admin/keys', 'key': '/admin/keys/home',
             'peers': '/admin/peers', 'peer': '/admin/peers/mirror', 'remove-user': '/admin/users/grandma/remove'}
    for width, height in WIDTHS:
        admin.set_viewport_size({'width': width, 'height': height})
        for name, path in pages.items():
            admin.goto(node_url + path)
            shoot(admin, name, width)
    fresh.goto(link)
    assert 'not valid any more' in fresh.inner_text('main')
    shoot(fresh, 'reset-spent', 360)
