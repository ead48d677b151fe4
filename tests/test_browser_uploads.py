"""The upload queue in a real browser: three files chosen at once go up resumably (tus), each with its own
progress, and are listed afterwards. Skipped where Chromium or Playwright is missing (see test_browser)."""
import os

import pytest
from test_browser import browser, node_url, sign_in  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = os.environ.get('PRIVTUBE_SHOTS')       # a folder to keep screenshots in, when set


def phone_video(path, size):
    """A file with an MP4's signature and `size` bytes of its own (distinct content: no duplicate)."""
    with open(path, 'wb') as fh:
        fh.write(b'\x00\x00\x00\x18ftypmp42' + os.urandom(size))
    return str(path)


def test_three_files_at_once_go_through_the_queue_and_are_listed(node_url, browser, tmp_path):  # noqa: F811
    files = [phone_video(tmp_path / ('VID_20240714_2015%02d.mp4' % n), size)
             for n, size in enumerate((9 * 1024 * 1024, 200_000, 50_000))]     # the first takes two chunks
    admin = sign_in(browser, node_url, 'admin', 'admin-password')
    admin.goto(node_url + '/upload')
    assert admin.is_visible('#folder-picker')
    cut = []

    def drop_the_wifi_once(route):
        """The first PATCH past the start of a file is cut off: the queue must resume from the offset."""
        request = route.request
        if request.method == 'PATCH' and request.headers.get('upload-offset') != '0' and not cut:
            cut.append(request.headers.get('upload-offset'))
            return route.abort('internetdisconnected')
        return route.continue_()
    admin.route('**/upload/tus/*', drop_the_wifi_once)
    admin.set_input_files('#files', files)
    admin.fill('input[name=new_album]', 'Evening at the lake')
    admin.click('#send')
    assert admin.is_disabled('#send')          # no second submit while the queue runs
    admin.wait_for_function('() => document.querySelectorAll("#queue li.done").length === 3', timeout=60000)
    assert admin.inner_text('#send') == 'Upload' and not admin.is_disabled('#send')
    assert admin.locator('#queue li.done a').count() == 3 and cut == [str(8 * 1024 * 1024)]
    links = admin.eval_on_selector_all('#queue li.done a', 'links => links.map(a => a.getAttribute("href"))')
    sizes = [len(admin.request.get(node_url + link.replace('/watch/', '/media/')).body()) for link in links]
    assert sizes == [os.path.getsize(path) for path in files]         # every byte there, once
    if SHOTS:
        admin.screenshot(path=os.path.join(SHOTS, 'upload-360.png'), full_page=True)
        admin.set_viewport_size({'width': 1280, 'height': 800})
        admin.screenshot(path=os.path.join(SHOTS, 'upload-1280.png'), full_page=True)
    admin.goto(node_url + '/search?q=VID')
    listed = admin.inner_text('main')
    for n in range(3):
        assert 'VID 20240714 2015%02d' % n in listed
    # the same three again: told they are already there, nothing stored twice
    admin.goto(node_url + '/upload')
    admin.set_input_files('#files', files)
    admin.click('#send')
    admin.wait_for_function('() => document.querySelectorAll("#queue li.duplicate").length === 3', timeout=60000)
    assert 'Already in the library' in admin.inner_text('#queue')
