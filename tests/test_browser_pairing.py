"""Two real `serve` processes paired entirely through their Peers pages, in Chromium (Playwright)."""
import os
import time

import pytest
from test_browser import browser, require_tools, sign_in  # noqa: F401 (fixture)
from test_network_sockets import DATA, Home

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = '/tmp/shots-pairing'


def shot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def items_of(house, peer):
    for line in house.cli('peer', 'list').stdout.splitlines():
        fields = line.split('\t')
        if fields[0] == peer:
            return int(fields[4])
    return None


def story(*houses):
    """Each home's peer list and serve log, for the message of a failed wait."""
    return '\n'.join('--- %s\n%s%s' % (house.name, house.cli('peer', 'list').stdout, house.log()[-4000:])
                     for house in houses)


def eventually(check, seconds=60):
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.3)
    return check()


def test_two_homes_pair_through_their_peers_pages(tmp_path, browser):  # noqa: F811
    require_tools()
    alice, bob = Home(tmp_path, 'alice'), Home(tmp_path, 'bob')
    try:
        for house in (alice, bob):
            (house.folder / 'media' / ('%s picnic.mp4' % house.name)).write_bytes(DATA[:5000])
            (house.folder / 'media' / ('%s taxes.mp4' % house.name)).write_bytes(DATA[:6000])
            house.cli('scan')
            picnic = [line.split('\t')[0] for line in house.cli('content', 'list').stdout.splitlines()
                      if 'picnic' in line][0]
            house.cli('content', 'edit', picnic, '--tag', 'family')
            house.cli('user', 'add', 'root', '--admin', '--password-stdin', stdin='root-password\n')
            house.start()
        page = sign_in(browser, alice.base, 'root', 'root-password', 1280, 800)
        page.goto(alice.base + '/admin/peers')
        page.fill('#pair-create input[name=rules]', 'tag:family')
        page.click('#pair-create button[type=submit]')
        link = page.inner_text('#pair-link').strip()
        assert link.startswith(alice.base + '/pair?from=alice#')
        shot(page, 'alice-link-1280.png')

        other = sign_in(browser, bob.base, 'root', 'root-password', 360, 740)
        other.goto(bob.base + '/admin/peers')
        other.fill('#pair-join input[name=link]', link)
        other.fill('#pair-join input[name=rules]', 'tag:family')
        other.click('#pair-join button[type=submit]')
        assert 'Linked with alice' in other.inner_text('#pair-joined')
        shot(other, 'bob-joined-360.png')
        assert eventually(lambda: items_of(bob, 'alice') == 1), story(alice, bob)
        assert eventually(lambda: items_of(alice, 'bob') == 1), story(alice, bob)
        other.goto(bob.base + '/search?q=picnic')
        assert 'alice picnic' in other.inner_text('body')
        assert 'alice taxes' not in other.inner_text('body')
        page.goto(alice.base + '/admin/peers')
        assert 'bob' in page.inner_text('table')
        shot(page, 'alice-peers-1280.png')

        # pasting the spent link again says why, keeping what was typed
        other.goto(bob.base + '/admin/peers')
        other.fill('#pair-join input[name=link]', link)
        other.click('#pair-join button[type=submit]')
        assert 'already exists' in other.inner_text('body')
        assert other.input_value('#pair-join input[name=link]') == link
        shot(other, 'bob-again-360.png')
    finally:
        alice.stop()
        bob.stop()
