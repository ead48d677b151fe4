"""End to end in a real browser: Debian's Chromium driven by Playwright against a real `serve`.

An admin uploads a short H.264/AAC video made by ffmpeg; a member finds it by search, plays it, seeks,
comments, and sees the view count rise. CI installs chromium, ffmpeg and playwright (.ci/run); elsewhere
the test is skipped when they are missing.
"""
import contextlib
import os
import shutil
import subprocess
import sys

import pytest
from test_serve import free_port, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = '/usr/bin/chromium'
ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-quic', '--autoplay-policy=no-user-gesture-required']

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def require_tools():
    missing = [name for name, ok in (('chromium', os.path.exists(CHROMIUM)), ('ffmpeg', shutil.which('ffmpeg')))
               if not ok]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append('playwright')
    if missing and os.environ.get('CI'):
        pytest.fail('CI must install %s (see .ci/run)' % ', '.join(missing))
    if missing:
        pytest.skip('needs %s' % ', '.join(missing))


def make_video(path):
    from media_samples import ffmpeg
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=duration=4:size=320x240:rate=25',
            '-f', 'lavfi', '-i', 'sine=frequency=440:duration=4', '-c:v', 'libx264', '-pix_fmt', 'yuv420p',
            '-c:a', 'aac', '-shortest', '-movflags', '+faststart'], path)


def home_config(tmp_path, more=''):
    """(config path, port) of a node named home on a free loopback port, its config.ini in `tmp_path`
    (with the lines `more` after its [server] port)."""
    port = free_port()
    config = str(tmp_path / 'config.ini')
    with open(config, 'w') as fh:
        fh.write('[node]\nname = home\n[server]\nport = %d\n%s' % (port, more))
    return config, port


def cli(config, *args, stdin=None):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', config] + list(args),
                          input=stdin, capture_output=True, text=True, timeout=60, check=True)


@pytest.fixture
def node_url(tmp_path):
    require_tools()
    config, port = home_config(tmp_path)
    cli(config, 'user', 'add', 'admin', '--admin', '--password-stdin', stdin='admin-password\n')
    cli(config, 'user', 'add', 'mia', '--password-stdin', stdin='mia-password\n')
    with served(config, port) as base:
        yield base


@contextlib.contextmanager
def served(config, port, log=None):
    """A real `serve` of `config` on `port` while the block runs: its base URL, once /healthz answers.
    Its log (stderr) goes to the open file `log` when one is given."""
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', config, 'serve'],
                               stdout=subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)
    base = 'http://127.0.0.1:%d' % port
    try:
        wait_for(base + '/healthz')
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def launch_chromium():
    """Playwright started and Debian's Chromium launched: (playwright, browser); stop both when done."""
    require_tools()
    from playwright.sync_api import sync_playwright
    playwright = sync_playwright().start()
    return playwright, playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


@pytest.fixture
def browser(chromium):
    """The one Chromium of the test run (conftest's `chromium`); what a test opens in it, it closes after."""
    yield chromium
    for context in chromium.contexts:
        context.close()


def sign_in(browser, base, name, password, width=360, height=740):
    """A new page of `browser`, `width` x `height`, signed in as `name` through the sign-in form."""
    page = browser.new_context(viewport={'width': width, 'height': height}).new_page()
    page.goto(base + '/')
    assert '/login' in page.url
    page.fill('input[name=username]', name)
    page.fill('input[name=password]', password)
    page.click('button[type=submit]')
    page.wait_for_url(base + '/')
    return page


def test_upload_search_play_seek_comment_and_count_a_view(node_url, browser, tmp_path):
    video = tmp_path / 'Lakeside picnic.mp4'
    make_video(video)

    admin = sign_in(browser, node_url, 'admin', 'admin-password')
    admin.click('text=Upload')
    admin.set_input_files('input[name=file]', str(video))
    admin.fill('input[name=title]', 'Lakeside picnic')
    admin.fill('input[name=tags]', 'family, summer')
    admin.click('#upload button[type=submit]')
    admin.wait_for_url('**/watch/*')
    assert admin.inner_text('h1') == 'Lakeside picnic'

    mia = sign_in(browser, node_url, 'mia', 'mia-password')
    mia.fill('header input[name=q]', 'lakesi')
    mia.press('header input[name=q]', 'Enter')
    mia.wait_for_url('**/search?*')
    mia.click('text=Lakeside picnic')
    mia.wait_for_url('**/watch/*')
    assert mia.inner_text('#views') == '0'

    mia.evaluate('() => { const v = document.getElementById("player"); v.muted = true; return v.play(); }')
    mia.wait_for_function('() => document.getElementById("player").currentTime > 0.3', timeout=20000)
    mia.evaluate('() => { document.getElementById("player").currentTime = 2.5; }')
    mia.wait_for_function('() => document.getElementById("player").currentTime > 2.6', timeout=20000)
    mia.wait_for_function('() => document.getElementById("views").textContent === "1"', timeout=30000)

    mia.fill('textarea[name=body]', 'What a lovely day <3')
    mia.click('#comments button[type=submit]')
    mia.wait_for_selector('#comments li:has-text("What a lovely day <3")')   # posted in place (comments.js)
    assert mia.inner_text('#views') == '1'

    admin.reload()
    assert admin.inner_text('#views') == '1'
    assert 'mia' in admin.inner_text('#comments')
    width = mia.evaluate('() => document.documentElement.scrollWidth')
    assert width <= 360, 'the watch page scrolls sideways on a phone (%d px)' % width
