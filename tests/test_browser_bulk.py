"""Select many in a real browser: click one card's box, shift-click another, and add a tag to the range.

Chromium driven by Playwright against a real `serve`, with the fixtures of tests/test_browser.py.
"""
import pytest
from test_browser import browser, cli, node_url, sign_in  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_click_and_shift_click_select_a_range_then_add_a_tag(node_url, browser, tmp_path):  # noqa: F811
    config = str(tmp_path / 'config.ini')
    for day in range(1, 7):
        photo = tmp_path / ('Day %d.jpg' % day)
        photo.write_bytes(b'\xff\xd8\xff\xe0' + bytes([day]) * 300)
        cli(config, 'content', 'add', str(photo), '--owner', 'admin')
    page = sign_in(browser, node_url, 'admin', 'admin-password')
    page.click('header >> text=Timeline')
    page.wait_for_url('**/timeline')
    boxes = page.locator('input[type=checkbox][form=bulk]')
    assert boxes.count() == 6
    boxes.nth(1).click()
    boxes.nth(4).click(modifiers=['Shift'])
    assert page.inner_text('.bulk-count') == '4 selected'
    assert [boxes.nth(n).is_checked() for n in range(6)] == [False, True, True, True, True, False]
    chosen = page.eval_on_selector_all('input[form=bulk]:checked', 'boxes => boxes.map(b => b.value)')
    page.select_option('select[name=action]', 'add_tags')
    assert page.is_visible('input[name=tags]') and not page.is_visible('input[name=new_album]')
    page.fill('input[name=tags]', 'picked')
    page.click('#bulk button[type=submit]')
    page.wait_for_url('**/bulk')
    assert page.inner_text('#summary') == 'Added tag picked to 4 items.'
    listing = cli(config, 'content', 'list').stdout.splitlines()
    tagged = sorted(line.split('\t')[0] for line in listing if line.split('\t')[3] == 'picked')
    assert tagged == sorted(chosen)
