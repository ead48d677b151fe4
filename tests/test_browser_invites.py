"""An invite in a real browser against a real `serve`: the admin makes a link for group `family` on the users
page, a newcomer opens it in a fresh browser context, chooses a name and password, and sees exactly the
family group's items. Screenshots at 1280 and 360 px go to /tmp/shots-people/."""
import os

import pytest
from test_browser import ARGS, CHROMIUM, ROOT, browser, cli, require_tools, served  # noqa: F401 (fixtures)
from test_serve import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = '/tmp/shots-people'
WIDTHS = {'wide': {'width': 1280, 'height': 800}, 'narrow': {'width': 360, 'height': 740}}


@pytest.fixture
def node_url(tmp_path):
    require_tools()
    port = free_port()
    config = str(tmp_path / 'config.ini')
    media = tmp_path / 'media'
    media.mkdir()
    with open(config, 'w') as fh:
        fh.write('[node]\nname = home\n[server]\nport = %d\n[store]\nmedia_dir = %s\n' % (port, media))
    cli(config, 'user', 'add', 'admin', '--admin', '--password-stdin', stdin='admin-password\n')
    cli(config, 'group', 'add', 'family', '--allow', 'tag:family')
    for title, tag in (('Beach day', 'family'), ('Office party', 'work')):
        path = media / (title + '.jpg')
        make_photo(path)
        cli(config, 'content', 'add', str(path), '--title', title, '--tag', tag)
    with served(config, port) as base:
        yield base


def make_photo(path):
    from PIL import Image
    Image.new('RGB', (64, 48), (200, 120, 40)).save(str(path))


def shoot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, name + '.png'), full_page=True)


def test_admin_invites_a_newcomer_who_sees_exactly_the_family_items(node_url, browser):
    admin = browser.new_context(viewport=WIDTHS['wide']).new_page()
    admin.goto(node_url + '/login')
    admin.fill('input[name=username]', 'admin')
    admin.fill('input[name=password]', 'admin-password')
    admin.click('button[type=submit]')
    admin.wait_for_url(node_url + '/')
    admin.goto(node_url + '/admin/users')
    admin.uncheck('form[action="/admin/invites"] input[value=members]')
    admin.check('form[action="/admin/invites"] input[value=family]')
    shoot(admin, 'users-wide')
    admin.click('form[action="/admin/invites"] button[type=submit]')
    link = admin.input_value('#invite-link')
    assert link.startswith(node_url + '/invite?token=')
    shoot(admin, 'invite-made-wide')
    admin.set_viewport_size(WIDTHS['narrow'])
    shoot(admin, 'invite-made-narrow')

    for label, viewport in WIDTHS.items():      # the page before anyone used it, at both widths
        look = browser.new_context(viewport=viewport).new_page()
        look.goto(link)
        shoot(look, 'invite-%s' % label)
        look.context.close()

    newcomer = browser.new_context(viewport=WIDTHS['narrow']).new_page()
    newcomer.goto(link)
    newcomer.fill('input[name=username]', 'Grandma')
    newcomer.fill('input[name=password]', 'grandma-password')
    newcomer.fill('input[name=again]', 'grandma-password')
    newcomer.click('form[action="/invite"] button[type=submit]')
    newcomer.wait_for_url(node_url + '/')
    text = newcomer.inner_text('main')
    assert 'Beach day' in text and 'Office party' not in text
    newcomer.goto(node_url + '/search?q=party')
    assert 'Office party' not in newcomer.inner_text('main')
    shoot(newcomer, 'newcomer-home-narrow')

    again = browser.new_context(viewport=WIDTHS['narrow']).new_page()
    again.goto(link)
    assert 'does not work' in again.inner_text('main')
    shoot(again, 'used-link-narrow')
    admin.goto(node_url + '/admin/users')
    assert 'Grandma' in admin.inner_text('main')
