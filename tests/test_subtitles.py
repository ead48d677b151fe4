"""Subtitles: sidecar files and text streams inside a file become cached WebVTT tracks of the video, listed
in the catalog, served to members and to peers, and a peer's members get them through their own node."""
import os
import re
import subprocess

import pytest
from media_samples import require_ffmpeg
from test_network import link, remote_id

import privtube_db
import privtube_probe
import privtube_subtitles as subtitles
from privtube_subtitles import NotSubtitles, to_webvtt

SRT = (b'1\r\n00:00:00,500 --> 00:00:01,500\r\nHello <i>there</i> & you\r\n\r\n'
       b'2\r\n00:00:02,000 --> 00:00:03,900\r\nSecond line\r\n')


def make_video(path, seconds=4):
    require_ffmpeg()
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-f', 'lavfi', '-i',
                    'testsrc=duration=%d:size=160x120:rate=10' % seconds, '-c:v', 'libx264', '-pix_fmt', 'yuv420p',
                    '-movflags', '+faststart', str(path)], check=True, timeout=120)
    return str(path)


def with_stream(video, srt, target, codec, language):
    """`video` with the SubRip file `srt` inside as a subtitle stream (copied: no re-encoding)."""
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-i', video, '-i', srt, '-map', '0', '-map', '1',
                    '-c', 'copy', '-c:s', codec, '-metadata:s:s:0', 'language=' + language, target],
                   check=True, timeout=120)
    return target


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as fh:
        fh.write(data)
    return path


def scanned(node):
    """Scan the media folder and probe what it found; returns the items by file name."""
    node.store.scanner.scan()
    node.node.media.run_pending()
    Item = node.node.database.Item
    return {os.path.basename(item.path): item for item in Item.select().where(Item.origin == 'local')}


@pytest.fixture
def film(node, tmp_path):
    """Film.mp4 in the media folder with Film.en.srt and Film.de.forced.srt beside it."""
    folder = os.path.join(node.media_dir, 'Films')
    os.makedirs(folder)
    make_video(os.path.join(folder, 'Film.mp4'))
    write(os.path.join(folder, 'Film.en.srt'), SRT)
    write(os.path.join(folder, 'Film.de.forced.srt'), SRT.replace(b'Hello', b'Hallo'))
    return scanned(node)['Film.mp4']


# --- the converter -----------------------------------------------------------------------------------

def test_subrip_becomes_webvtt_with_dots_a_header_and_escaped_text():
    vtt = to_webvtt(b'\xef\xbb\xbf' + SRT).decode()
    assert vtt.startswith('WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nHello <i>there</i> &amp; you\n')
    assert '00:00:02.000 --> 00:00:03.900\nSecond line' in vtt and '\r' not in vtt


def test_old_subrip_in_windows_western_encoding_is_read():
    vtt = to_webvtt('1\n00:00:01,000 --> 00:00:02,000\nDéjà vu – “quoted”\n'.encode('cp1252')).decode()
    assert 'Déjà vu – “quoted”' in vtt


def test_an_arrow_or_markup_in_cue_text_cannot_make_cues_or_tags():
    hostile = (b'1\n00:00:01,000 --> 00:00:02,000\nfake --> 00:00:03.000 --> 00:09:00.000\n'
               b'<script>alert(1)</script><font color="red">red</font> <b>bold</b>\n\n'
               b'junk block without timing\n\n2\n00:00:05,000 --> 00:00:04,000\nends before it starts\n')
    vtt = to_webvtt(hostile).decode()
    cue_lines = [line for line in vtt.splitlines() if '-->' in line]
    assert cue_lines == ['00:00:01.000 --> 00:00:02.000']
    assert '<script>' not in vtt and '<font' not in vtt and '<b>bold</b>' in vtt
    assert 'junk block' not in vtt and 'ends before' not in vtt


@pytest.mark.parametrize('data, why', [
    (b'\x00\x01\x02\x03' * 1000, 'binary'),
    (b'1\n00:00:01,000 --> 00:00:02,000\n' + b'x' * (subtitles.MAX_SUBTITLE_BYTES + 1), 'huge'),
    (b'just some text\nwith no cues\n', 'no cues'),
])
def test_files_that_are_no_subtitles_are_refused(data, why):
    with pytest.raises(NotSubtitles):
        to_webvtt(data)


@pytest.mark.parametrize('name, track', [
    ('Film.srt', ('file', '', 'Subtitles')),
    ('Film.vtt', ('file', '', 'Subtitles')),
    ('Film.en.srt', ('file-en', 'en', 'English')),
    ('Film.de.forced.srt', ('file-de-forced', 'de', 'Deutsch (forced)')),
    ('Film.eng.sdh.srt', ('file-eng-sdh', 'en', 'English (for the hard of hearing)')),
    ('Film.pt-BR.srt', ('file-ptbr', 'pt-BR', 'Português')),
    ('Other.en.srt', None),
    ('Filmography.en.srt', None),
])
def test_sidecar_names_give_language_and_label(name, track):
    assert subtitles.sidecar_track('Film.mp4', name) == track


# --- sidecars ----------------------------------------------------------------------------------------

def test_sidecars_are_listed_served_as_webvtt_and_are_no_items(node, film):
    assert film.subtitles == [{'id': 'file-de-forced', 'lang': 'de', 'label': 'Deutsch (forced)'},
                              {'id': 'file-en', 'lang': 'en', 'label': 'English'}]
    assert not any(item.path.endswith('.srt') for item in node.node.database.Item.select())
    member = node.sign_in('mia')
    page = member.get('/watch/' + film.id)
    assert ('<track kind="subtitles" src="/subtitles/%s/file-en" srclang="en" label="English">' % film.id
            in page.text)
    track = member.get('/subtitles/%s/file-en' % film.id)
    assert track.content_type == 'text/vtt' and track.headers['X-Content-Type-Options'] == 'nosniff'
    assert track.text.startswith('WEBVTT') and 'Hello <i>there</i> &amp; you' in track.text
    assert 'Hallo' in member.get('/subtitles/%s/file-de-forced' % film.id).text


@pytest.mark.parametrize('sid', ['nope', '..%2F..%2Fconfig.ini', '..', 'file-en.vtt', 'sidecars', '%00'])
def test_unknown_or_crafted_track_ids_are_404(node, film, sid):
    member = node.sign_in('mia')
    member.get('/subtitles/%s/%s' % (film.id, sid), status=404)
    key = node.key('reader')
    node.client.get('/api/v1/content/%s/subtitles/%s' % (film.id, sid), headers=key, status=404)


def test_subtitles_follow_the_items_visibility(node, film):
    node.store.items.edit(film, private=True)
    node.sign_in('mia').get('/subtitles/%s/file-en' % film.id, status=404)
    node.client.get('/api/v1/content/%s/subtitles/file-en' % film.id, headers=node.key('reader'), status=404)
    node.client.get('/subtitles/%s/file-en' % film.id, status=303)     # no session: to the sign-in page


def test_api_serves_tracks_and_lists_them_in_the_item_and_catalog(node, film):
    key = node.key('reader')
    track = node.client.get('/api/v1/content/%s/subtitles/file-en' % film.id, headers=key)
    assert track.content_type == 'text/vtt' and track.body.startswith(b'WEBVTT\n')
    assert node.client.get('/api/v1/content/' + film.id, headers=key).json['subtitles'][1]['label'] == 'English'
    listed = {item['id']: item for item in node.client.get('/api/v1/catalog', headers=key).json['items']}
    assert [track['id'] for track in listed[film.id]['subtitles']] == ['file-de-forced', 'file-en']


def test_a_sidecar_added_changed_or_removed_later_is_picked_up_by_the_next_scan(node, film):
    folder = os.path.join(node.media_dir, 'Films')
    seq = film.seq
    write(os.path.join(folder, 'Film.fr.vtt'), b'WEBVTT\n\n00:01.000 --> 00:02.000 align:start\nBonjour\n')
    item = scanned(node)['Film.mp4']
    assert [track['id'] for track in item.subtitles] == ['file-de-forced', 'file-en', 'file-fr']
    assert item.seq > seq and item.media_state == 'done'      # touched for peers, not probed again
    assert 'align:start' in node.sign_in('mia').get('/subtitles/%s/file-fr' % film.id).text
    os.remove(os.path.join(folder, 'Film.de.forced.srt'))
    item = scanned(node)['Film.mp4']
    assert [track['id'] for track in item.subtitles] == ['file-en', 'file-fr']
    assert not os.path.exists(os.path.join(node.store.cache_dir, 'subtitles', film.id, 'file-de-forced.vtt'))
    unchanged = item.seq
    assert scanned(node)['Film.mp4'].seq == unchanged      # nothing changed: no new change number


def test_hostile_sidecars_are_skipped_and_the_good_one_kept(node):
    folder = os.path.join(node.media_dir, 'Films')
    make_video(os.path.join(folder, 'Film.mp4'))
    write(os.path.join(folder, 'Film.en.srt'), SRT)
    write(os.path.join(folder, 'Film.huge.srt'), b'1\n00:00:01,000 --> 00:00:02,000\n' + b'a' * (3 * 1024 * 1024))
    write(os.path.join(folder, 'Film.bin.srt'), os.urandom(4096).replace(b'\n', b'\x00') + b'\x00')
    write(os.path.join(folder, 'Film.fr.vtt'), b'WEBVTT\n\n00:01.000 --> 00:02.000\n--> 00:03.000 --> x\n')
    item = scanned(node)['Film.mp4']
    assert [track['id'] for track in item.subtitles] == ['file-en', 'file-fr']
    text = node.sign_in('mia').get('/subtitles/%s/file-fr' % item.id).text
    assert [line for line in text.splitlines() if line.startswith('00:')] == ['00:00:01.000 --> 00:00:02.000']


def test_a_sidecar_that_links_out_of_the_media_folder_is_not_read(node, tmp_path):
    folder = os.path.join(node.media_dir, 'Films')
    make_video(os.path.join(folder, 'Film.mp4'))
    outside = write(str(tmp_path / 'secret.srt'), SRT.replace(b'Hello', b'Secret'))
    os.symlink(outside, os.path.join(folder, 'Film.en.srt'))
    item = scanned(node)['Film.mp4']
    assert item.subtitles == []
    assert not os.path.exists(os.path.join(node.store.cache_dir, 'subtitles', item.id, 'file-en.vtt'))


# --- streams inside the file -------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize('name, codec, language, lang, label', [
    ('Film.mkv', 'srt', 'ger', 'de', 'Deutsch'),
    ('Film.mp4', 'mov_text', 'eng', 'en', 'English'),
])
def test_text_streams_inside_a_file_are_extracted_once(node, tmp_path, monkeypatch, name, codec, language, lang,
                                                       label):
    video = make_video(tmp_path / 'plain.mp4')
    srt = write(str(tmp_path / 'subs.srt'), SRT)
    with_stream(video, srt, os.path.join(node.media_dir, name), codec, language)
    commands, run = [], privtube_probe.run_on_file
    monkeypatch.setattr(privtube_probe, 'run_on_file', lambda command, fh, timeout: commands.append(command)
                        or run(command, fh, timeout))
    item = scanned(node)[name]
    assert item.subtitles == [{'id': 'track-0', 'lang': lang, 'label': label}]
    extraction = [command for command in commands if '0:s:0' in command]
    assert len(extraction) == 1 and extraction[0][-5:] == ['-c:s', 'webvtt', '-f', 'webvtt', 'pipe:1']
    assert extraction[0][extraction[0].index('-i') + 1] == 'pipe:0'     # the file reaches ffmpeg on stdin only
    scanned(node)
    assert len([command for command in commands if '0:s:0' in command]) == 1     # not extracted again
    vtt = node.sign_in('mia').get('/subtitles/%s/track-0' % item.id).text
    assert vtt.startswith('WEBVTT') and 'Hello <i>there</i> &amp; you' in vtt and '00:00:02.000 --> ' in vtt


@pytest.mark.slow
def test_picture_subtitles_are_skipped(node, tmp_path):
    video = make_video(tmp_path / 'plain.mp4', seconds=2)
    target = os.path.join(node.media_dir, 'Disc.mkv')
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-i', video, '-f', 'lavfi', '-i',
                    'color=c=white:size=160x120:duration=2,format=yuva420p', '-map', '0', '-map', '1:v',
                    '-c:v:0', 'copy', '-c:v:1', 'libx264', target], check=True, timeout=120)  # no PGS encoder:
    item = scanned(node)['Disc.mkv']        # a second video stands in; what matters is no text track appears
    assert item.subtitles == [] and item.media_state == 'done'
    streams = [{'codec_type': 'subtitle', 'codec_name': 'hdmv_pgs_subtitle'},
               {'codec_type': 'subtitle', 'codec_name': 'dvd_subtitle'}]
    assert [subtitles.embedded_track(n, stream) for n, stream in enumerate(streams)] == [None, None]


# --- peers ---------------------------------------------------------------------------------------------

def test_a_peers_member_gets_the_tracks_through_their_own_node(network, tmp_path):
    alice, bob, item_id = peers_film(network)
    item = bob.store.items.get(item_id)
    assert item.subtitles == [{'id': 'file-en', 'lang': 'en', 'label': 'English'}]
    viewer = bob.sign_in('ann')
    assert 'src="/subtitles/%s/file-en"' % item_id in viewer.get('/watch/' + item_id).text
    track = viewer.get('/subtitles/%s/file-en' % item_id)
    assert track.content_type == 'text/vtt' and 'Hello <i>there</i>' in track.text
    viewer.get('/subtitles/%s/track-9' % item_id, status=404)     # not in the item's list: never asked for
    assert not any('track-9' in url for _, url in network.requests)


def test_a_peer_that_sends_something_else_than_webvtt_is_refused(network, tmp_path):
    from privtube_peer import Reply
    alice, bob, item_id = peers_film(network)
    real = network.handlers['http://alice.test']

    def hostile(method, path, headers, body):
        if '/subtitles/' in path:
            return Reply(200, {'Content-Type': 'text/html'}, b'<html><script>alert(1)</script></html>')
        return network.call_app(real, method, path, headers, body)
    network.handlers['http://alice.test'] = hostile
    viewer = bob.sign_in('ann')
    answer = viewer.get('/subtitles/%s/file-en' % item_id, status=502)
    assert '<script>alert' not in answer.text


def test_upgrading_probes_videos_again_for_their_subtitle_streams(node):
    film = node.add('film.mkv', data=b'\x1aE\xdf\xa3' + bytes(200))
    photo = node.add('photo.jpg', data=b'\xff\xd8\xff\xe0' + bytes(200))
    Item, db = node.node.database.Item, node.node.database.db
    Item.update(media_state='done').execute()
    db.execute_sql('PRAGMA user_version = 14')      # the step before subtitle streams were read
    privtube_db.migrate(db, target=15)
    assert Item.get_by_id(film.id).media_state == 'pending' and Item.get_by_id(photo.id).media_state == 'done'


def peers_film(network):
    """alice shares Film.mp4 with Film.en.srt beside it; bob has synced it. (alice, bob, the row id)."""
    alice, bob = network.make('alice'), network.make('bob')
    folder = os.path.join(alice.media_dir, 'Films')
    make_video(os.path.join(folder, 'Film.mp4'))
    write(os.path.join(folder, 'Film.en.srt'), SRT)
    scanned(alice)
    link(network, alice, bob)
    assert bob.node.registry.sync('alice')[0]
    return alice, bob, remote_id(bob, 'Film')


def track_asks(network):
    return [url for _, url in network.requests if '/subtitles/' in url]


def test_a_peers_tracks_are_cached_and_still_load_when_the_peer_is_offline(network):
    alice, bob, item_id = peers_film(network)
    viewer = bob.sign_in('ann')
    assert 'Hello <i>there</i>' in viewer.get('/subtitles/%s/file-en' % item_id).text
    assert len(track_asks(network)) == 1                                 # the first view: from alice
    assert 'Hello <i>there</i>' in viewer.get('/subtitles/%s/file-en' % item_id).text
    assert len(track_asks(network)) == 1                                 # the next: from bob's cache
    del network.handlers['http://alice.test']                            # alice goes offline
    track = viewer.get('/subtitles/%s/file-en' % item_id)
    assert track.content_type == 'text/vtt' and 'Second line' in track.text
    cached = bob.node.registry.subtitles.item_folder(item_id)
    assert os.path.exists(os.path.join(cached, 'file-en.vtt'))
    assert cached.startswith(os.path.join(os.path.dirname(bob.node.database.path), 'cache'))


def test_a_peers_cached_tracks_go_when_the_item_is_removed(network):
    alice, bob, item_id = peers_film(network)
    bob.sign_in('ann').get('/subtitles/%s/file-en' % item_id)
    cached = bob.node.registry.subtitles.item_folder(item_id)
    assert os.path.isdir(cached)
    Item = alice.node.database.Item
    alice.store.items.delete(Item.get(Item.title == 'Film'))
    assert bob.node.registry.sync('alice')[0]
    assert not bob.node.database.Item.select().where(bob.node.database.Item.id == item_id).exists()
    assert not os.path.exists(cached)


def test_a_peers_cached_tracks_are_fetched_again_when_its_list_changes(network):
    alice, bob, item_id = peers_film(network)
    viewer = bob.sign_in('ann')
    viewer.get('/subtitles/%s/file-en' % item_id)
    folder = os.path.join(alice.media_dir, 'Films')
    write(os.path.join(folder, 'Film.fr.srt'), SRT.replace(b'Hello', b'Bonjour'))
    write(os.path.join(folder, 'Film.en.srt'), SRT.replace(b'Hello', b'Hi again'))
    scanned(alice)                                          # a new sidecar: alice's list changes
    assert bob.node.registry.sync('alice')[0]
    assert not os.path.exists(bob.node.registry.subtitles.item_folder(item_id))     # dropped by the sync
    assert 'Hi again' in viewer.get('/subtitles/%s/file-en' % item_id).text
    assert 'Bonjour' in viewer.get('/subtitles/%s/file-fr' % item_id).text
    assert len(track_asks(network)) == 3


def test_a_cached_track_is_not_served_for_a_list_that_changed_before_the_prune(network):
    alice, bob, item_id = peers_film(network)
    viewer = bob.sign_in('ann')
    viewer.get('/subtitles/%s/file-en' % item_id)
    item = bob.store.items.get(item_id)
    item.subtitles = [{'id': 'file-en', 'lang': 'en', 'label': 'English (new)'}]
    item.save()
    assert bob.node.registry.subtitles.read(item, 'file-en') is None


# --- forced tracks ---------------------------------------------------------------------------------------

def track(sid, lang, label):
    return {'id': sid, 'lang': lang, 'label': label}


@pytest.mark.parametrize('tracks, chosen', [
    ([track('file-en', 'en', 'English'), track('file-de-forced', 'de', 'Deutsch (forced)')], 'file-de-forced'),
    ([track('file-de-forced', 'de', 'Deutsch (forced)'), track('file-en-forced', 'en', 'English (forced)')],
     'file-en-forced'),                                           # two forced tracks: the page's language
    ([track('track-0', 'fr', 'Français (forced)'), track('track-1', 'de', 'Deutsch (forced)')], None),
    ([track('track-2', 'en-GB', 'English (forced, for the hard of hearing)')], 'track-2'),
    ([track('file-en', 'en', 'English'), track('file-en-sdh', 'en', 'English (for the hard of hearing)')], None),
    ([track('track-0', 'en', 'Forced entry (director)')], None),   # "forced" in a title is no flag
    ([], None),
])
def test_the_forced_track_of_the_pages_language_or_the_only_one_is_on(tracks, chosen):
    assert subtitles.default_track(tracks) == chosen


def test_the_watch_page_switches_on_the_forced_track_and_leaves_the_others_off(node, film):
    page = node.sign_in('mia').get('/watch/' + film.id).text
    tracks = re.findall(r'<track [^>]*>', page)
    assert tracks == ['<track kind="subtitles" src="/subtitles/%s/file-de-forced" srclang="de" '
                      'label="Deutsch (forced)" default>' % film.id,
                      '<track kind="subtitles" src="/subtitles/%s/file-en" srclang="en" label="English">' % film.id]


def test_a_peers_forced_track_is_on_as_well(network):
    alice, bob = network.make('alice'), network.make('bob')
    folder = os.path.join(alice.media_dir, 'Films')
    make_video(os.path.join(folder, 'Film.mp4'))
    write(os.path.join(folder, 'Film.en.forced.srt'), SRT)
    write(os.path.join(folder, 'Film.fr.srt'), SRT)
    scanned(alice)
    link(network, alice, bob)
    assert bob.node.registry.sync('alice')[0]
    item_id = remote_id(bob, 'Film')
    tracks = re.findall(r'<track [^>]*>', bob.sign_in('ann').get('/watch/' + item_id).text)
    assert [t.endswith(' default>') for t in tracks] == [True, False] and 'file-en-forced' in tracks[0]
