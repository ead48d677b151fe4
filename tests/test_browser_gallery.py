"""The gallery and comments in place, in a real browser: Debian's Chromium driven by Playwright against a
real `serve` (the fixtures of tests/test_browser.py), with photos made by Pillow and videos by ffmpeg.

A photo card of the timeline opens the viewer; arrow keys step through the grid's cards, a video among
them plays in place, Escape closes and puts the focus on the card of the item shown last; on a phone the
on-screen buttons and a swipe step; a slideshow steps by itself. A comment posted while a video plays
leaves it playing, and a time in a comment seeks the player. Screenshots go to /tmp/shots-gallery/.
"""
import os

import pytest
from media_samples import ffmpeg
from test_browser import browser, cli, node_url, sign_in  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = '/tmp/shots-gallery'
# newest first on the timeline: the video sits between photos, the portrait photo is second
FILES = (('IMG_20240506_100000.jpg', 'Beach', (800, 600)), ('IMG_20240505_100000.jpg', 'Tower', (600, 1000)),
         ('VID_20240504_100000.mp4', 'Waves', None), ('IMG_20240503_100000.jpg', 'Forest', (800, 600)))


def make_photo(path, size, colour):
    from PIL import Image, ImageDraw
    image = Image.new('RGB', size, colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4), outline='white', width=12)
    image.save(path, quality=85)


def make_video(path, seconds):
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=duration=%d:size=320x240:rate=25' % seconds, '-f', 'lavfi',
            '-i', 'sine=frequency=440:duration=%d' % seconds, '-c:v', 'libx264', '-pix_fmt', 'yuv420p',
            '-c:a', 'aac', '-shortest', '-movflags', '+faststart'], path)


@pytest.fixture
def library(node_url, tmp_path):  # noqa: F811
    """The node with FILES added; {title: item id}."""
    config = str(tmp_path / 'config.ini')
    ids = {}
    for number, (name, title, size) in enumerate(FILES):
        path = tmp_path / name
        if size:
            make_photo(path, size, ('#1565c0', '#6a1b9a', None, '#2e7d32')[number])
        else:
            make_video(path, 20)
        ids[title] = cli(config, 'content', 'add', str(path), '--title', title, '--owner', 'admin').stdout.strip()
    return node_url, ids


def signed_in(browser, base, width, height):  # noqa: F811
    return sign_in(browser, base, 'admin', 'admin-password', width, height)


def shown_title(page):
    return page.inner_text('.gallery-title')


def focus_in_dialog(page):
    return page.evaluate('() => document.querySelector(".gallery").contains(document.activeElement)')


def test_the_timeline_opens_a_photo_and_steps_through_its_grid_with_keys(library, browser):  # noqa: F811
    base, ids = library
    page = signed_in(browser, base, 1280, 800)
    page.goto(base + '/timeline')
    titles = page.eval_on_selector_all('ul.cards .title', 'spans => spans.map(s => s.textContent)')
    assert titles == ['Beach', 'Tower', 'Waves', 'Forest']
    page.click('ul.cards a[data-id="%s"]' % ids['Beach'])
    page.wait_for_selector('.gallery[role=dialog][aria-modal=true]')
    assert page.url.endswith('/timeline#view=' + ids['Beach']), 'the card navigated instead of opening the viewer'
    assert shown_title(page) == 'Beach' and focus_in_dialog(page)
    assert page.get_attribute('.gallery-stage img', 'src') == '/preview/' + ids['Beach']
    assert page.get_attribute('.gallery-open', 'href') == '/watch/' + ids['Beach']

    page.keyboard.press('ArrowRight')
    assert shown_title(page) == 'Tower'
    page.wait_for_function('() => document.querySelector(".gallery-stage img").naturalWidth > 0')
    shape = page.evaluate('''() => { const img = document.querySelector(".gallery-stage img");
        return [getComputedStyle(img).objectFit, img.naturalWidth / img.naturalHeight]; }''')
    assert shape[0] == 'contain' and abs(shape[1] - 0.6) < 0.01, 'the portrait photo is not shown at its shape'
    page.screenshot(path=os.path.join(SHOTS, 'gallery-1280-portrait.png'))

    page.keyboard.press('ArrowRight')
    assert shown_title(page) == 'Waves'
    page.evaluate('() => { const v = document.querySelector(".gallery-stage video"); v.muted = true;'
                  ' return v.play(); }')
    page.wait_for_function('() => document.querySelector(".gallery-stage video").currentTime > 0.5', timeout=20000)
    assert page.get_attribute('.gallery-stage video', 'src') == '/play/' + ids['Waves']
    page.screenshot(path=os.path.join(SHOTS, 'gallery-1280-video.png'))

    page.keyboard.press('ArrowRight')
    assert shown_title(page) == 'Forest' and page.is_disabled('.gallery-next')
    page.keyboard.press('ArrowRight')                  # the end of the grid: it stays
    assert shown_title(page) == 'Forest'
    page.keyboard.press('ArrowLeft')
    assert shown_title(page) == 'Waves' and page.query_selector('.gallery-stage img') is None
    page.keyboard.press('ArrowRight')
    for _ in range(9):                                  # Tab stays inside the dialog
        page.keyboard.press('Tab')
        assert focus_in_dialog(page)
    page.keyboard.press('Escape')
    assert page.is_hidden('.gallery')
    assert page.evaluate('() => document.activeElement.dataset.id') == ids['Forest'], 'the focus is not on the card'


def test_keyboard_alone_opens_zooms_and_closes(library, browser):  # noqa: F811
    base, ids = library
    page = signed_in(browser, base, 1280, 800)
    page.goto(base + '/timeline')
    page.focus('ul.cards a[data-id="%s"]' % ids['Forest'])
    page.keyboard.press('Enter')
    page.wait_for_selector('.gallery:not([hidden])')
    assert shown_title(page) == 'Forest' and focus_in_dialog(page)
    page.keyboard.press('+')
    assert page.get_attribute('.gallery-zoom', 'aria-pressed') == 'true'
    assert 'scale(2)' in page.get_attribute('.gallery-stage img', 'style')
    page.keyboard.press('-')
    assert 'scale(1)' in page.get_attribute('.gallery-stage img', 'style')
    names = page.eval_on_selector_all('.gallery button', 'bs => bs.map(b => b.getAttribute("aria-label"))')
    assert all(names) and 'Close' in names and 'Start slideshow' in names
    page.keyboard.press('Escape')
    assert page.evaluate('() => document.activeElement.dataset.id') == ids['Forest']


def test_on_a_phone_buttons_and_swipes_step(library, browser):  # noqa: F811
    base, ids = library
    page = signed_in(browser, base, 360, 740)
    page.goto(base + '/timeline')
    page.click('ul.cards a[data-id="%s"]' % ids['Beach'])
    page.wait_for_selector('.gallery:not([hidden])')
    for selector in ('.gallery-next', '.gallery-prev', '.gallery-close', '.gallery-play', '.gallery-zoom'):
        box = page.locator(selector).bounding_box()
        assert box['width'] >= 44 and box['height'] >= 44, selector
        assert box['x'] >= 0 and box['x'] + box['width'] <= 360, selector
    page.screenshot(path=os.path.join(SHOTS, 'gallery-360-landscape.png'))
    page.click('.gallery-next')
    assert shown_title(page) == 'Tower'
    page.wait_for_function('() => document.querySelector(".gallery-stage img").naturalWidth > 0')
    page.screenshot(path=os.path.join(SHOTS, 'gallery-360-portrait.png'))
    page.mouse.move(300, 370)                           # a swipe to the left: the next item
    page.mouse.down()
    page.mouse.move(200, 375, steps=5)
    page.mouse.move(80, 380, steps=5)
    page.mouse.up()
    assert shown_title(page) == 'Waves'
    page.screenshot(path=os.path.join(SHOTS, 'gallery-360-video.png'))
    bottom = page.locator('.gallery-stage video').bounding_box()
    page.mouse.move(300, bottom['y'] + bottom['height'] - 15)   # a drag along its seek bar is no swipe
    page.mouse.down()
    page.mouse.move(80, bottom['y'] + bottom['height'] - 15, steps=8)
    page.mouse.up()
    assert shown_title(page) == 'Waves'
    page.mouse.move(60, 150)                            # and back, across the top of the video
    page.mouse.down()
    page.mouse.move(300, 150, steps=8)
    page.mouse.up()
    assert shown_title(page) == 'Tower'
    page.click('.gallery-prev')
    assert shown_title(page) == 'Beach'
    width = page.evaluate('() => document.documentElement.scrollWidth')
    assert width <= 360, 'the viewer scrolls sideways on a phone (%d px)' % width


def test_a_slideshow_steps_by_itself_and_hides_its_controls(library, browser):  # noqa: F811
    base, ids = library
    page = signed_in(browser, base, 1280, 800)
    page.goto(base + '/timeline')
    page.click('ul.cards a[data-id="%s"]' % ids['Beach'])
    page.select_option('.gallery-interval', '3')
    assert page.evaluate('() => localStorage.getItem("privtube-slideshow-seconds")') == '3'
    page.click('.gallery-play')
    assert page.get_attribute('.gallery-play', 'aria-label') == 'Pause slideshow'
    page.click('.gallery-full')                         # a photo frame: the whole screen
    page.wait_for_function('() => document.fullscreenElement === document.querySelector(".gallery")')
    assert page.get_attribute('.gallery-full', 'aria-label') == 'Leave full screen'
    page.wait_for_function('() => document.querySelector(".gallery-title").textContent === "Tower"', timeout=6000)
    page.wait_for_selector('.gallery.idle', timeout=6000)
    page.wait_for_function('() => getComputedStyle(document.querySelector(".gallery-bar")).opacity === "0"')
    page.screenshot(path=os.path.join(SHOTS, 'gallery-1280-slideshow-idle.png'))
    page.keyboard.press('s')
    assert page.get_attribute('.gallery-play', 'aria-label') == 'Start slideshow'
    page.keyboard.press('f')
    page.wait_for_function('() => !document.fullscreenElement')
    assert page.is_hidden('.gallery.idle')
    page.reload()                                       # the address (#view=) opens the viewer again
    page.wait_for_selector('.gallery:not([hidden])')
    assert page.input_value('.gallery-interval') == '3'


def test_a_comment_posted_while_a_video_plays_leaves_it_playing_and_its_time_seeks(library, browser):  # noqa: F811
    base, ids = library
    page = signed_in(browser, base, 1280, 800)
    page.goto(base + '/watch/' + ids['Waves'])
    page.evaluate('() => { window.stillThisPage = true; const v = document.getElementById("player");'
                  ' v.muted = true; return v.play(); }')
    page.wait_for_function('() => document.getElementById("player").currentTime > 0.3', timeout=20000)
    page.fill('textarea[name=body]', 'Look at 0:02 <b>here</b>')
    page.click('#comments button[type=submit]')
    page.wait_for_selector('#comments li:has-text("Look at 0:02 <b>here</b>")')
    assert page.evaluate('() => window.stillThisPage') is True, 'posting reloaded the page'
    assert page.input_value('textarea[name=body]') == ''
    before = page.evaluate('() => document.getElementById("player").currentTime')
    page.wait_for_function('t => document.getElementById("player").currentTime > t + 0.5', arg=before,
                           timeout=10000)
    assert page.evaluate('() => document.getElementById("player").paused') is False
    assert page.query_selector('#comments li b') is None, 'the body was read as HTML'

    page.evaluate('() => { const v = document.getElementById("player"); v.pause(); v.currentTime = 12; }')
    page.click('#comments a.seek:text("0:02")')
    page.wait_for_function('() => { const v = document.getElementById("player");'
                           ' return !v.paused && v.currentTime >= 2 && v.currentTime < 6; }', timeout=10000)

    page.fill('textarea[name=body]', '   ')                        # refused: the page says why, keeps the text
    page.evaluate('() => document.querySelector("textarea[name=body]").removeAttribute("required")')
    page.click('#comments button[type=submit]')
    page.wait_for_selector('#comments .add-comment .error:has-text("must not be empty")')
    assert page.input_value('textarea[name=body]') == '   '
    page.screenshot(path=os.path.join(SHOTS, 'comments-1280.png'), full_page=True)

    page.reload()                                                     # the server links the time too
    assert page.get_attribute('#comments a.seek', 'data-seek') == '2'
    page.on('dialog', lambda dialog: dialog.accept())
    page.evaluate('() => { window.stillThisPage = true; }')
    page.click('#comments .delete-comment button')
    page.wait_for_function('() => !document.querySelector("#comments li")')
    assert page.evaluate('() => window.stillThisPage') is True

    phone = signed_in(browser, base, 360, 740)
    phone.goto(base + '/watch/' + ids['Waves'])
    phone.fill('textarea[name=body]', 'From the phone at 0:05')
    phone.click('#comments button[type=submit]')
    phone.wait_for_selector('#comments a.seek:text("0:05")')
    phone.screenshot(path=os.path.join(SHOTS, 'comments-360.png'), full_page=True)


def test_an_album_grid_is_the_sequence_and_its_address_reopens_the_viewer(library, browser, tmp_path):  # noqa: F811
    base, ids = library
    config = str(tmp_path / 'config.ini')
    album = cli(config, 'album', 'add', 'Trip', ids['Forest'], ids['Waves'], ids['Beach']).stdout.strip()
    page = signed_in(browser, base, 1280, 800)
    page.goto(base + '/albums/' + album)
    page.click('ul.cards a[data-id="%s"]' % ids['Forest'])
    assert shown_title(page) == 'Forest' and page.inner_text('.gallery-count') == '1 of 3'
    page.keyboard.press('ArrowRight')
    assert page.query_selector('.gallery-stage video') is not None
    page.keyboard.press('ArrowRight')
    assert shown_title(page) == 'Beach' and page.url.endswith('/albums/%s#view=%s' % (album, ids['Beach']))
    page.reload()
    page.wait_for_selector('.gallery:not([hidden])')
    assert shown_title(page) == 'Beach' and page.inner_text('.gallery-count') == '3 of 3'
    page.keyboard.press('Escape')
    assert page.url.endswith('/albums/' + album)
    page.goto(base + '/albums/%s#view=%s' % (album, '"><img src=x onerror=alert(1)>'))   # no such card: no viewer
    page.reload()
    assert page.query_selector('.gallery') is None and page.query_selector('img[src=x]') is None
