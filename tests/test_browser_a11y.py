"""Every page in Chromium at 1280x800 and 360x740: axe-core finds no serious or critical WCAG 2.1 AA
violation, and on a phone the grids have two columns or more, nothing scrolls sideways, every tap target is
44x44 px or more and the keyboard reaches the search, the nav and the cards with a visible focus ring.

A real `serve` (tests/test_browser.py's fixtures) with real media made by ffmpeg: a video, a photo, a song.
"""
import os
import subprocess
import sys

import pytest
from axe_check import assert_accessible, new_context, require_axe
from media_samples import make_sample
from test_browser import ROOT, browser, cli, node_url, require_tools  # noqa: F401 (fixtures)
from test_serve import free_port, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = ((1280, 800), (360, 740))

# Tap targets smaller than 44x44 px, as JavaScript sees them. WCAG exempts a link inside a sentence or a
# paragraph of text ("inline"): here a link in a <p> with 20 characters or more of text besides its links.
# A checkbox wrapped in a label is tapped through its label, so the label's box is the target.
SMALL_TARGETS = '''() => {
  const prose = p => { const copy = p.cloneNode(true); copy.querySelectorAll('a').forEach(a => a.remove());
                       return copy.textContent.replace(/\\s+/g, ' ').trim().length >= 20; };
  const small = [];
  for (const el of document.querySelectorAll('a[href], button, input[type=checkbox], input[type=file], select')) {
    const target = el.type === 'checkbox' && el.closest('label') ? el.closest('label') : el;
    const box = target.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden') continue;
    const p = el.tagName === 'A' && el.closest('p');
    if (p && prose(p)) continue;
    if (box.width < 44 || box.height < 44)
      small.push(el.tagName.toLowerCase() + ' "' + (el.textContent || el.getAttribute('aria-label') || '').trim()
                 .slice(0, 30) + '" ' + Math.round(box.width) + 'x' + Math.round(box.height));
  }
  return small;
}'''

SIDEWAYS = '() => document.scrollingElement.scrollWidth - window.innerWidth'


def add(config, path, title):
    return cli(config, 'content', 'add', path, '--title', title, '--tag', 'family', '--owner', 'admin').stdout.strip()


@pytest.fixture
def library(node_url, tmp_path):  # noqa: F811
    """The node's items (video, photo, song, and a video that goes to the Trash) and an album of them."""
    require_axe()
    config = str(tmp_path / 'config.ini')
    ids = {'video': add(config, make_sample(tmp_path, 'video_with_audio.mp4'), 'Lakeside picnic'),
           'image': add(config, make_sample(tmp_path, 'photo.jpg'), 'Garden at noon'),
           'audio': add(config, make_sample(tmp_path, 'song.mp3'), 'A long song title that wraps on phones')}
    ids['trashed'] = add(config, make_sample(tmp_path, 'video_only.webm'), 'Old clip')
    album = cli(config, 'album', 'add', 'Summer holidays', ids['video'], ids['image'], ids['audio']).stdout.strip()
    return node_url, ids, album


def signed_in(browser, base, width, height, name, password):  # noqa: F811
    page = new_context(browser, width, height).new_page()
    page.goto(base + '/login')
    page.fill('input[name=username]', name)
    page.fill('input[name=password]', password)
    page.click('main button[type=submit]')
    page.wait_for_url(base + '/')
    return page


def check(page, label, phone, problems):
    """axe on the page as it stands; on a phone also no sideways scrolling and no small tap target. What
    fails is added to `problems`, so that one run names every page that fails."""
    try:
        assert_accessible(page, label)
    except AssertionError as failed:
        problems.append(str(failed))
    if phone and page.evaluate(SIDEWAYS) > 0:
        problems.append('%s scrolls sideways on a phone (%d px)' % (label, page.evaluate(SIDEWAYS)))
    small = page.evaluate(SMALL_TARGETS) if phone else []
    if small:
        problems.append('tap targets under 44x44 px on %s: %s' % (label, ', '.join(small)))


def visit(page, base, path, label, phone, problems):
    page.goto(base + path)
    page.wait_for_load_state('load')
    check(page, label, phone, problems)


@pytest.mark.parametrize('width,height', SIZES)
def test_every_page_passes_axe_and_fits_a_phone(library, browser, width, height):  # noqa: F811
    base, ids, album = library
    phone, problems = width < 600, []
    anonymous = new_context(browser, width, height).new_page()
    visit(anonymous, base, '/login', 'the sign-in page', phone, problems)
    visit(anonymous, base, '/setup', 'the setup page after setup', phone, problems)

    admin = signed_in(browser, base, width, height, 'admin', 'admin-password')
    delete_to_trash(admin, base, ids['trashed'])
    for path, label in admin_pages(ids, album):
        visit(admin, base, path, label, phone, problems)
    issue_key(admin, base, phone, problems)
    app_password_pages(admin, base, phone, problems)
    bulk_pages(admin, base, phone, problems)
    share_link = make_share_link(admin, base, ids['video'], phone, problems)
    for path, label in (('/invite?token=' + 'x' * 43, 'an invite link that does not work'),
                        ('/reset?token=' + 'x' * 43, 'a reset link that does not work')):
        visit(anonymous, base, path, label, phone, problems)
    visit(anonymous, base, share_link[len(base):] if share_link.startswith(base) else share_link,
          'a share link', phone, problems)

    member = signed_in(browser, base, width, height, 'mia', 'mia-password')
    visit(member, base, '/', 'home of a member', phone, problems)
    visit(member, base, '/watch/' + ids['video'], 'a video for a member', phone, problems)
    assert problems == [], '\n'.join(problems)


def admin_pages(ids, album):
    """(path, what it is) of every page an administrator opens, besides those reached by forms."""
    return (('/', 'home'), ('/search?q=family', 'search results'), ('/search?q=nothingmatches', 'no results'),
            ('/watch/' + ids['video'], 'a video'), ('/watch/' + ids['audio'], 'a song'),
            ('/watch/' + ids['image'], 'a photo'), ('/albums', 'albums'), ('/albums/' + album, 'an album'),
            ('/search?q=family&page=2', 'a second page of results (its Previous link)'),
            ('/albums/%s?page=2' % album, "an album's second page"), ('/albums/%s/delete' % album, 'deleting an album'),
            ('/timeline', 'the timeline'),
            ('/upload', 'upload'), ('/edit/' + ids['video'], 'edit'), ('/delete/' + ids['image'], 'delete'),
            ('/trash', 'the trash'), ('/trash/%s/delete' % ids['trashed'], 'delete for good'),
            ('/account', 'account'), ('/admin/users', 'users'), ('/admin/groups', 'groups'),
            ('/admin/keys', 'keys'), ('/admin/peers', 'peers'), ('/admin/library', 'library'),
            ('/admin/users/mia', "a user's page"), ('/admin/users/mia/remove', 'removing a user'),
            ('/admin/groups/members', "a group's page"), ('/shares', 'shared links'),
            ('/shares/new?item=' + ids['video'], 'a new share link'),
            ('/logout', 'sign out'))


def make_share_link(page, base, item_id, phone, problems):
    """A share link of the video made on its form; the page that shows it once is checked too."""
    page.goto(base + '/shares/new?item=' + item_id)
    page.click('main form button[type=submit]')
    page.wait_for_load_state('load')
    check(page, 'a share link just made', phone, problems)
    return page.input_value('#share-link')


def delete_to_trash(page, base, item_id):
    page.goto(base + '/delete/' + item_id)
    page.click('main form.danger button[type=submit]')
    page.wait_for_load_state('load')


def issue_key(page, base, phone, problems):
    """The keys page with a new key shown once, and a peer listed on the peers page."""
    page.goto(base + '/admin/keys')
    page.fill('main input[name=name]', 'grandma')
    page.click('main form.card button[type=submit]')
    page.wait_for_selector('#new-key')
    check(page, 'keys with a new key', phone, problems)


def app_password_pages(page, base, phone, problems):
    """The account page with a new app password shown once, then listed, and the question before revoking."""
    page.goto(base + '/account')
    page.fill('form[action^="/account/app-passwords"] input[name=name]', 'Living room Kodi')
    page.click('form[action^="/account/app-passwords"] button[type=submit]')
    page.wait_for_selector('#app-password')
    check(page, 'account with a new app password', phone, problems)
    visit(page, base, '/account', 'account with an app password', phone, problems)
    page.click('a[aria-label="Revoke Living room Kodi"]')
    page.wait_for_load_state('load')
    check(page, 'revoking an app password', phone, problems)


def bulk_pages(page, base, phone, problems):
    """Select cards on the search page, then the bulk result page and the bulk delete confirmation."""
    page.goto(base + '/search?q=family')
    page.locator('input[form=bulk]').first.check()
    page.select_option('select[name=action]', 'add_tags')
    page.fill('#bulk input[name=tags]', 'picked')
    page.click('#bulk button[type=submit]')
    page.wait_for_url('**/bulk')
    check(page, 'a bulk change done', phone, problems)
    page.goto(base + '/search?q=family')
    page.locator('input[form=bulk]').first.check()
    page.select_option('select[name=action]', 'delete')
    page.click('#bulk button[type=submit]')
    page.wait_for_url('**/bulk')
    check(page, 'a bulk delete to confirm', phone, problems)


def test_a_phone_shows_the_home_grid_in_columns(library, browser):  # noqa: F811
    base, _, _ = library
    page = signed_in(browser, base, 360, 740, 'mia', 'mia-password')
    lefts = page.eval_on_selector_all('main section:last-of-type .cards > li',
                                      'cards => cards.map(c => Math.round(c.getBoundingClientRect().left))')
    assert len(set(lefts)) >= 2, 'one card per row on a phone (left edges %s)' % lefts
    widths = page.eval_on_selector_all('main .cards > li', 'cards => cards.map(c => c.getBoundingClientRect().width)')
    assert all(130 <= width <= 180 for width in widths), widths


FOCUSED = '''() => { const el = document.activeElement; const style = getComputedStyle(el);
  if (el === document.body) return null;
  return {where: el.closest('header form') ? 'search' : el.closest('header nav') ? 'nav' :
                 el.closest('.cards') ? 'cards' : el.closest('header') ? 'header' : 'other',
          text: (el.textContent || el.name || '').trim().slice(0, 30),
          ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2}; }'''


@pytest.mark.parametrize('width,height', SIZES)
def test_tab_reaches_the_search_the_nav_and_the_cards_in_order_with_a_visible_ring(library, browser, width,  # noqa: F811
                                                                                   height):
    base, _, _ = library
    page = signed_in(browser, base, width, height, 'mia', 'mia-password')
    stops = []
    for _ in range(14):
        page.keyboard.press('Tab')
        stop = page.evaluate(FOCUSED)
        if stop is None:        # past the last link: the focus left the page
            break
        stops.append(stop)
    places = [stop['where'] for stop in stops]
    assert 'search' in places and 'nav' in places and 'cards' in places, places
    assert places.index('search') < places.index('nav') < places.index('cards'), places
    unringed = [stop['text'] for stop in stops if not stop['ring']]
    assert unringed == [], 'no visible focus on %s' % unringed


def test_the_axe_check_names_the_rules_a_page_breaks(browser):  # noqa: F811
    require_axe()
    page = new_context(browser, 360, 740).new_page()
    page.set_content('<html lang="en"><body><main><h1>Broken</h1><a href="/x"><img src="/x.png"></a>'
                     '<input type="text"><p style="color:#bbb;background:#fff">pale text</p></main></body></html>')
    with pytest.raises(AssertionError) as failed:
        assert_accessible(page, 'a broken page')
    for rule in ('image-alt', 'label', 'color-contrast', 'link-name'):
        assert rule in str(failed.value)
    assert 'a broken page' in str(failed.value) and 'img' in str(failed.value)


def test_the_axe_check_works_where_the_pages_policy_refuses_inline_scripts(node_url, browser):  # noqa: F811
    require_axe()
    page = browser.new_context(viewport={'width': 1280, 'height': 800}).new_page()
    page.goto(node_url + '/login')
    assert_accessible(page, 'the sign-in page in a context that keeps the CSP')
    assert page.evaluate('() => typeof window.axe.run') == 'function'


def test_the_setup_form_of_a_new_node_passes_axe_and_fits_a_phone(browser, tmp_path):  # noqa: F811
    require_tools()
    require_axe()
    config = tmp_path / 'config.ini'
    config.write_text('[node]\nname = home\n[server]\nport = %d\n' % free_port())
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', str(config), 'serve'],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        link = next(word for line in process.stdout for word in line.split() if '/setup?token=' in word)
        wait_for(link)
        for width, height in SIZES:
            problems = []
            page = new_context(browser, width, height).new_page()
            page.goto(link)
            assert page.inner_text('h1') == 'Welcome to privtube'
            check(page, 'the setup form', width < 600, problems)
            assert problems == [], '\n'.join(problems)
    finally:
        process.terminate()
        process.wait(timeout=10)
