"""Songs: tags read from real MP3s made by ffmpeg (with an embedded cover), the music albums made of them,
the album page's track list, search by artist and album, and a peer's songs through the catalog."""
import os
import re
import subprocess
import tempfile

import pytest
from media_samples import ffmpeg, require_ffmpeg
from peewee import SqliteDatabase
from test_network import link

import privtube_db
import privtube_music as music
from privtube_db import Database, migrate
from privtube_scan import FolderAlbums


def make_cover():
    """A small JPEG outside every media folder (inside one, it would be an item of its own)."""
    path = os.path.join(tempfile.gettempdir(), 'privtube-test-cover-%d.jpg' % os.getpid())
    if not os.path.exists(path):
        subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'color=c=orange:s=96x96',
                        '-frames:v', '1', path], check=True, timeout=60)
    return path


def make_song(path, title, artist, album, track, disc='1/1', year='2021', seconds=1, cover=True,
              album_artist=None, frequency=440):
    """A real MP3 of `seconds` of a tone with ID3 tags and, when `cover`, an embedded front cover."""
    require_ffmpeg()
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    tags = {'title': title, 'artist': artist, 'album': album, 'track': track, 'disc': disc, 'date': year}
    if album_artist:
        tags['album_artist'] = album_artist
    command = ['-f', 'lavfi', '-i', 'sine=frequency=%d:duration=%s' % (frequency, seconds)]
    if cover:
        command += ['-i', make_cover(), '-map', '0', '-map', '1',
                    '-c:v', 'copy', '-metadata:s:v', 'title=Album cover', '-metadata:s:v', 'comment=Cover (front)']
    command += ['-c:a', 'libmp3lame', '-id3v2_version', '3']
    for key, value in tags.items():
        command += ['-metadata', '%s=%s' % (key, value)]
    return ffmpeg(command, path, timeout=60)


def make_record(folder, name='Blue Hour', artist='Nina Vale', titles=('Morning', 'Noon', 'Night'), **options):
    """Three songs of one album in `folder`, written in an order unlike their track numbers."""
    for number in range(len(titles), 0, -1):
        make_song(os.path.join(folder, '%02d-%s.mp3' % (9 - number, titles[number - 1].lower())),
                  titles[number - 1], artist, name, '%d/%d' % (number, len(titles)), **options)


def probed(node):
    node.store.scanner.scan()
    node.node.media.run_pending()


def song_titles(page):
    """The titles of the song cards of a grid (album cards aside)."""
    return re.findall(r'data-kind="audio">.*?<span class="title">([^<]+)<', page.text, re.S)


def titles_on(page):
    return [text for text in re.findall(r'class="track-title"[^>]*>([^<]+)<', page.text)]


# --- tags --------------------------------------------------------------------------------------------------

def test_tags_come_from_the_format_and_from_an_ogg_stream_case_blind():
    report = {'format': {'tags': {'ARTIST': 'Nina\nVale', 'Album': 'Blue Hour', 'track': '3/12', 'disc': '2/2',
                                  'date': '2021-05-01', 'album artist': 'Various'}},
              'streams': [{'codec_type': 'audio', 'tags': {'TITLE': 'Night', 'ARTIST': 'ignored'}}]}
    assert music.song_tags(report) == {'title': 'Night', 'artist': 'Nina Vale', 'album_artist': 'Various',
                                       'music_album': 'Blue Hour', 'disc': 2, 'track': 3, 'year': 2021}


def test_absurd_tags_are_cut_or_dropped():
    report = {'format': {'tags': {'artist': 'x' * 5000, 'track': '0', 'disc': 'one', 'date': '99999999',
                                  'album': ' \u200b ', 'title': 'Blue\xa0Hour\x00'}}}
    found = music.song_tags(report)
    assert len(found['artist']) == music.MAX_TAG_TEXT
    assert found['track'] is None and found['disc'] is None and found['year'] is None
    assert found['music_album'] is None and found['title'] == 'Blue Hour'


def test_a_scanned_song_gets_its_tags_and_its_tag_title(node):
    make_song(os.path.join(node.media_dir, 'Nina Vale', 'Blue Hour', '07-night.mp3'), 'Night', 'Nina Vale',
              'Blue Hour', '3/12', disc='1/2', year='2021')
    probed(node)
    song = node.store.database.Item.get()
    assert (song.title, song.artist, song.music_album, song.track, song.disc, song.year) == (
        'Night', 'Nina Vale', 'Blue Hour', 3, 1, 2021)
    assert song.thumbnail        # the embedded cover


def test_an_opus_song_has_its_vorbis_comments_read_from_its_stream(node):
    require_ffmpeg()
    path = os.path.join(node.media_dir, 'voice note.opus')
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=duration=1', '-c:a', 'libopus',
                    '-metadata', 'ARTIST=Ogg Singer', '-metadata', 'ALBUM=Field Notes', '-metadata', 'TRACKNUMBER=4',
                    '-metadata', 'TITLE=Birdsong', path], check=True, timeout=60)
    probed(node)
    song = node.store.database.Item.get()
    assert (song.title, song.artist, song.music_album, song.track) == ('Birdsong', 'Ogg Singer', 'Field Notes', 4)


def test_step_15_writes_the_artists_of_older_songs_into_the_search_index(tmp_path):
    path = str(tmp_path / 'thirteen.db')
    db = SqliteDatabase(path, pragmas=privtube_db.PRAGMAS)
    migrate(db, target=13)
    db.execute_sql("INSERT INTO item (id, path, title, mime, size, mtime_ns, created, updated, seq, artist, "
                   "music_album, media_state) VALUES ('AAAAAAAAAAAAAAAAAAAAAA', 'a.mp3', 'Night', 'audio/mpeg', 10, "
                   "1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1, 'Nina Vale', 'Blue Hour', 'done')")
    db.execute_sql("INSERT INTO item (id, path, title, mime, size, mtime_ns, created, updated, seq, media_state) "
                   "VALUES ('CCCCCCCCCCCCCCCCCCCCCC', 'b.mp3', 'Untagged yet', 'audio/mpeg', 10, 1, "
                   "'2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 2, 'done')")
    db.close()
    database = Database(path)
    for words in ('nina', 'blue hour'):
        found = database.db.execute_sql('SELECT item_id FROM item_fts WHERE item_fts MATCH ?', (words,)).fetchall()
        assert found == [('AAAAAAAAAAAAAAAAAAAAAA',)]
    states = database.db.execute_sql('SELECT id, media_state FROM item ORDER BY id').fetchall()
    assert states == [('AAAAAAAAAAAAAAAAAAAAAA', 'done'), ('CCCCCCCCCCCCCCCCCCCCCC', 'pending')]  # probed again
    database.close()


def test_a_title_a_person_chose_is_kept(node):
    path = make_song(os.path.join(node.media_dir, 'a.mp3'), 'Tag title', 'Nina Vale', 'Blue Hour', '1')
    item = node.store.items.create(path, 'My own title')
    node.node.media.run_pending()
    assert node.store.items.get(item.id).title == 'My own title'
    assert node.store.items.get(item.id).artist == 'Nina Vale'


# --- music albums ------------------------------------------------------------------------------------------

def music_albums(node):
    return [album for album in node.store.albums.listing('local') if album.kind == 'music']


def test_songs_of_one_folder_make_one_album_not_two(node):
    folder = os.path.join(node.media_dir, 'Nina Vale', 'Blue Hour')
    make_record(folder)
    probed(node)
    albums = node.store.albums.listing('local')
    assert [(album.name, album.kind) for album in albums] == [('Nina Vale/Blue Hour', 'folder')]
    assert [item.title for item in node.store.albums.items_query(albums[0])] == ['Morning', 'Noon', 'Night']


def test_songs_scattered_over_folders_make_a_music_album_in_track_order(node):
    make_record(os.path.join(node.media_dir, 'Downloads'), titles=('Morning', 'Noon'))
    make_song(os.path.join(node.media_dir, 'Phone', 'night.mp3'), 'Night', 'Nina Vale', 'Blue Hour', '3/3')
    make_song(os.path.join(node.media_dir, 'Downloads', 'other.mp3'), 'Other', 'Sam', 'Elsewhere', '1')
    probed(node)
    album = node.store.albums.by_name('Blue Hour')
    assert album.kind == 'music'
    assert [item.title for item in node.store.albums.items_query(album)] == ['Morning', 'Noon', 'Night']
    assert sorted(album.name for album in music_albums(node)) == ['Blue Hour', 'Elsewhere']
    node.node.media.run_pending()
    music.MusicAlbums(node.store).sync()        # again: nothing changes, nothing doubles
    assert sorted(album.name for album in music_albums(node)) == ['Blue Hour', 'Elsewhere']


def test_two_artists_albums_of_one_name_stay_apart(node):
    make_song(os.path.join(node.media_dir, 'mixed', 'a.mp3'), 'A', 'Nina Vale', 'Greatest Hits', '1')
    make_song(os.path.join(node.media_dir, 'mixed', 'b.mp3'), 'B', 'Sam Reed', 'Greatest Hits', '1')
    probed(node)
    assert sorted(album.name for album in music_albums(node)) == ['Greatest Hits', 'Greatest Hits — Sam Reed']
    for album in music_albums(node):
        assert len(list(node.store.albums.items_query(album))) == 1


def test_a_retagged_song_moves_to_its_new_album_and_an_empty_one_goes(node):
    make_song(os.path.join(node.media_dir, 'a.mp3'), 'A', 'Nina Vale', 'First', '1')
    make_song(os.path.join(node.media_dir, 'b.mp3'), 'B', 'Nina Vale', 'First', '2')
    probed(node)
    first = node.store.albums.by_name('First')
    node.store.albums.rename(first, 'Our first record')         # a name given by hand stays
    make_song(os.path.join(node.media_dir, 'b.mp3'), 'B', 'Nina Vale', 'Second', '1', frequency=660)
    probed(node)
    assert [item.title for item in node.store.albums.items_query(node.store.albums.get(first.id))] == ['A']
    assert node.store.albums.get(first.id).name == 'Our first record'
    assert [item.title for item in node.store.albums.items_query(node.store.albums.by_name('Second'))] == ['B']
    os.unlink(os.path.join(node.media_dir, 'a.mp3'))
    node.store.scanner.scan()                   # no song to probe: the scan drops the empty album
    assert node.store.albums.get(first.id) is None


def test_an_album_rule_names_the_folder_album_of_a_record(network):
    alice, bob = network.make('alice'), network.make('bob')
    make_record(os.path.join(alice.media_dir, 'Nina Vale', 'Blue Hour'))
    probed(alice)
    link(network, alice, bob, ['album:Nina Vale/Blue Hour'])
    assert bob.node.registry.sync('alice')[0]
    Item = bob.node.database.Item
    songs = list(Item.select().where(Item.origin == 'alice').order_by(Item.track))
    assert [(song.title, song.artist, song.track) for song in songs] == [
        ('Morning', 'Nina Vale', 1), ('Noon', 'Nina Vale', 2), ('Night', 'Nina Vale', 3)]
    ann = bob.sign_in('ann')
    found = ann.get('/search', {'q': 'nina'})
    assert sorted(song_titles(found)) == ['Morning', 'Night', 'Noon'] and 'Nina Vale' in found.text
    album = bob.store.albums.by_name('Nina Vale/Blue Hour', origin='alice')
    page = ann.get('/albums/' + album.id)
    assert titles_on(page) == ['Morning', 'Noon', 'Night']
    watch = ann.get('/watch/' + songs[0].id)
    assert 'Nina Vale' in watch.text and '/albums/%s' % album.id in watch.text


def test_a_peers_music_album_arrives_by_its_name(network):
    alice, bob = network.make('alice'), network.make('bob')
    make_record(os.path.join(alice.media_dir, 'Downloads'), titles=('Morning', 'Noon'))
    make_song(os.path.join(alice.media_dir, 'Phone', 'night.mp3'), 'Night', 'Nina Vale', 'Blue Hour', '3/3')
    probed(alice)
    link(network, alice, bob, ['album:Blue Hour'])
    assert bob.node.registry.sync('alice')[0]
    album = bob.store.albums.by_name('Blue Hour', origin='alice')
    assert [item.title for item in bob.store.albums.items_query(album)] == ['Morning', 'Noon', 'Night']


# --- pages and search --------------------------------------------------------------------------------------

@pytest.fixture
def record(node):
    make_record(os.path.join(node.media_dir, 'Nina Vale', 'Blue Hour'))
    make_song(os.path.join(node.media_dir, 'rain.mp3'), 'Rain', 'Sam Reed', 'Weather', '1/1')
    probed(node)
    return node


def test_the_album_page_lists_the_tracks_with_cover_and_play_buttons(record):
    client = record.sign_in('mia')
    album = record.store.albums.by_name('Nina Vale/Blue Hour')
    page = client.get('/albums/' + album.id)
    assert titles_on(page) == ['Morning', 'Noon', 'Night']
    assert 'data-queue-play' in page.text and 'data-queue-shuffle' in page.text
    first = record.store.albums.items_query(album).first()
    assert 'src="/thumb/%s"' % first.id in page.text
    assert '0:01' in page.text and 'Nina Vale' in page.text


def test_a_songs_watch_page_shows_its_cover_artist_and_album(record):
    client = record.sign_in('mia')
    Item = record.node.database.Item
    rain = Item.get(Item.title == 'Rain')
    page = client.get('/watch/' + rain.id)
    album = record.store.albums.by_name('Weather')
    assert 'class="song-cover"' in page.text and '/thumb/%s' % rain.id in page.text
    assert 'Sam Reed' in page.text and 'href="/albums/%s"' % album.id in page.text


@pytest.mark.parametrize('words, expected', [('nina', ['Morning', 'Night', 'Noon']), ('blue ho', ['Morning', 'Night',
                         'Noon']), ('weather', ['Rain']), ('sam reed', ['Rain'])])
def test_search_finds_songs_by_artist_and_album(record, words, expected):
    client = record.sign_in('mia')
    assert sorted(song_titles(client.get('/search', {'q': words}))) == expected


def test_a_hand_made_playlist_plays_in_the_order_it_was_arranged(record):
    Item = record.node.database.Item
    night, rain, morning = (Item.get(Item.title == title) for title in ('Night', 'Rain', 'Morning'))
    playlist = record.store.albums.create('Evening mix', item_ids=[night.id, rain.id, morning.id])
    page = record.sign_in('mia').get('/albums/' + playlist.id)
    assert titles_on(page) == ['Night', 'Rain', 'Morning']


def test_folder_albums_are_unchanged_by_the_music_sync(record):
    before = [(a.id, a.name, a.kind) for a in record.store.albums.listing('local')]
    FolderAlbums(record.store).sync()
    music.MusicAlbums(record.store).sync()
    assert [(a.id, a.name, a.kind) for a in record.store.albums.listing('local')] == before
