"""Songs: the tags read from audio files (artist, album artist, album, disc, track, year, title), the music
albums made from them, and what the album and watch pages show of a song.

Tags come from ffprobe's report (privtube_probe.summarize): the container's tags (ID3, MP4 atoms, FLAC's
Vorbis comments) and, for Ogg and Opus, the audio stream's, where Vorbis comments sit. Keys are matched
without regard to case, since each format spells them its own way (TRACKNUMBER, track, "album artist").
"""
import re
from collections import Counter, defaultdict

from privtube_items import MAX_TAG_TEXT, MAX_TITLE
from privtube_media import media_kind

SONG_COLUMNS = ('artist', 'album_artist', 'music_album', 'disc', 'track', 'year')
TAG_NAMES = {   # the item's column: the tag names that hold it, the first found wins
    'title': ('title',),
    'artist': ('artist', 'album_artist', 'album artist', 'albumartist', 'performer'),
    'album_artist': ('album_artist', 'album artist', 'albumartist'),
    'music_album': ('album',),
    'disc': ('disc', 'discnumber'),
    'track': ('track', 'tracknumber'),
    'year': ('date', 'year', 'originaldate', 'tdor', 'tdrc'),
}
TEXT_LIMITS = {'title': MAX_TITLE, 'artist': MAX_TAG_TEXT, 'album_artist': MAX_TAG_TEXT,
               'music_album': MAX_TAG_TEXT}
NUMBER_RANGES = {'disc': (1, 99), 'track': (1, 9999), 'year': (1000, 9999)}


# --- tags ------------------------------------------------------------------------------------------------

def song_tags(report):
    """{title, artist, album_artist, music_album, disc, track, year} from an ffprobe report (each None when
    the file does not say). Text is one line, cut to its limit; numbers outside sane ranges are dropped."""
    tags = folded_tags(report)
    found = {}
    for column, names in TAG_NAMES.items():
        value = next((tags[name] for name in names if tags.get(name)), None)
        found[column] = tag_number(column, value) if column in NUMBER_RANGES else tag_text(value,
                                                                                           TEXT_LIMITS[column])
    return found


def folded_tags(report):
    """The report's tags with lower-case keys: the format's first, then each audio stream's where the
    format has none of that name (Ogg keeps its Vorbis comments on the stream)."""
    tags = {}
    streams = [s for s in report.get('streams') or [] if isinstance(s, dict) and s.get('codec_type') == 'audio']
    for source in [report.get('format') or {}] + streams:
        for key, value in (source.get('tags') or {}).items() if isinstance(source.get('tags'), dict) else ():
            if isinstance(key, str) and isinstance(value, str):
                tags.setdefault(key.strip().lower(), value)
    return tags


def tag_text(value, limit):
    """One line of at most `limit` printable characters (a no-break space is a space), or None when
    nothing is left."""
    if not isinstance(value, str):
        return None
    shown = ''.join(char if char.isprintable() else ' ' for char in value)     # album names must be printable
    text = ' '.join(shown.split())[:limit].strip()
    return text or None


def tag_number(column, value):
    """The leading number of a tag ('3/12' is 3, '2021-05-01' is 2021) if it is in the column's range."""
    found = re.match(r'\s*0*([0-9]{1,6})', value or '')
    if not found:
        return None
    low, high = NUMBER_RANGES[column]
    number = int(found.group(1))
    return number if low <= number <= high else None


# --- music albums -----------------------------------------------------------------------------------------

def album_key(artist, name):
    """What makes two songs the same album: the album's artist and name, compared without case."""
    return (artist or '').casefold(), name.casefold()


class MusicAlbums:
    """One album of kind 'music' for every album this node's songs name in their tags (its artist: the
    album artist, else the artist), made and kept up by the media worker once it has read the tags.

    When the songs of a tagged album are exactly the songs of a folder album (the usual Artist/Album
    folder; pictures beside them such as cover.jpg do not count), that folder album is the album and no
    music album is made: a second album would double the album list, and rules naming the folder album
    (`album:Music/Artist/Album`, possible since the scan made it) keep matching the same songs. Marking the
    folder album 'music' instead would hand it from the folder sync to this one, which would then fight
    over it. The album pages treat an album of mostly songs as music, whatever its kind.

    A music album is found by the tags of its songs, not by its name, so a name changed by hand stays.
    Two albums of one name ("Greatest Hits" of two artists) are told apart as 'Greatest Hits — Artist'.
    Membership changes go through Albums (add_items, remove_items, delete), so catalogs, rules and search
    follow."""

    def __init__(self, store):
        self.store, self.database, self.db = store, store.database, store.database.db

    @property
    def albums(self):
        return self.store.albums

    def sync(self):
        """Bring every music album in line with the songs' tags now, in one transaction: songs join the
        album their tags name and leave others; albums no song names any longer go."""
        with self.db.atomic():
            every = self.music_albums()
            wanted, held, kept = self.songs_by_album(), self.albums_by_key(every), set()
            folders = self.folder_songs()
            for key, (name, artist, item_ids) in wanted.items():
                album = held.get(key)
                if frozenset(item_ids) in folders:
                    continue            # the folder album is this album (and a music album of it goes)
                if album is None:
                    album = self.albums.create(self.free_name(name, artist), kind='music', item_ids=item_ids)
                else:
                    self.update(album, item_ids)
                kept.add(album.id)
            for album in every.values():
                if album.id not in kept:
                    self.albums.delete(album)

    def music_albums(self):
        Album = self.database.Album
        return {album.id: album for album in Album.select().where((Album.origin == 'local') & (Album.kind == 'music'))}

    def songs_by_album(self):
        """{key: (album name, artist, [item ids in disc and track order])} of this node's tagged songs
        outside the trash; the spelling of the first song names the album."""
        Item = self.database.Item
        wanted = {}
        rows = (Item.select(Item.id, Item.album_artist, Item.artist, Item.music_album)
                .where((Item.origin == 'local') & Item.music_album.is_null(False) & Item.trashed.is_null())
                .order_by(Item.disc, Item.track, Item.path).tuples())
        for item_id, album_artist, artist, name in rows:
            key = album_key(album_artist or artist, name)
            wanted.setdefault(key, (name, album_artist or artist, []))[2].append(item_id)
        return wanted

    def albums_by_key(self, albums):
        """{key: album} of the music `albums` ({id: album}), each under the key most of its songs' tags
        name now. An album whose songs name none, or a key an older album holds, is not listed."""
        AlbumItem, Item = self.database.AlbumItem, self.database.Item
        keys = defaultdict(Counter)
        rows = (AlbumItem.select(AlbumItem.album, Item.album_artist, Item.artist, Item.music_album)
                .join(Item).where(AlbumItem.album.in_(list(albums)) & Item.music_album.is_null(False))
                .order_by(AlbumItem.position).tuples())     # a tie goes to the key of its first song
        for album_id, album_artist, artist, name in rows:
            keys[album_id][album_key(album_artist or artist, name)] += 1
        held = {}
        for album_id in sorted(albums, key=lambda album_id: albums[album_id].created):
            if keys[album_id]:
                held.setdefault(keys[album_id].most_common(1)[0][0], albums[album_id])
        return held

    def folder_songs(self):
        """The sets of song ids of the folder albums (their other items, such as a cover picture, aside)."""
        Album, AlbumItem, Item = self.database.Album, self.database.AlbumItem, self.database.Item
        songs = defaultdict(set)
        rows = (AlbumItem.select(AlbumItem.album, Item.id).join(Item).switch(AlbumItem).join(Album)
                .where((Album.origin == 'local') & (Album.kind == 'folder') & Item.mime.startswith('audio/')).tuples())
        for album_id, item_id in rows:
            songs[album_id].add(item_id)
        return {frozenset(members) for members in songs.values()}

    def update(self, album, item_ids):
        present = {item.id for item in self.albums.items_query(album)} | self.trashed_members(album)
        joining = [item_id for item_id in item_ids if item_id not in present]
        leaving = present.difference(item_ids)
        if joining:
            self.albums.add_items(album, joining)
        if leaving:
            self.albums.remove_items(album, leaving)

    def trashed_members(self, album):
        """Members in the trash (items_query leaves them out): they leave a music album with their tags."""
        AlbumItem, Item = self.database.AlbumItem, self.database.Item
        return {item_id for item_id, in AlbumItem.select(AlbumItem.item).join(Item).where(
            (AlbumItem.album == album.id) & Item.trashed.is_null(False)).tuples()}

    def free_name(self, name, artist):
        """The album's name, else 'NAME — ARTIST', else 'NAME — ARTIST (2)'...: a name no album has."""
        candidates = [name] + (['%s — %s' % (name, artist)] if artist else [])
        for candidate in candidates:
            if self.albums.by_name(candidate[:MAX_TAG_TEXT]) is None:
                return candidate[:MAX_TAG_TEXT]
        number = 2
        while self.albums.by_name('%s (%d)' % (candidates[-1][:MAX_TAG_TEXT - 8], number)) is not None:
            number += 1
        return '%s (%d)' % (candidates[-1][:MAX_TAG_TEXT - 8], number)


# --- what pages show ---------------------------------------------------------------------------------------

def is_music(album, items):
    """An album shown as a track list: a music album, or any album whose items are mostly songs."""
    songs = sum(1 for item in items if media_kind(item.mime) == 'audio')
    return album.kind == 'music' or (bool(items) and songs * 2 > len(items))


def tracks(items):
    """The songs of an album page in the album's order: disc and track for folder, music and peers' albums
    (Albums.items_query), the hand-made order of a playlist someone arranged."""
    return [item for item in items if media_kind(item.mime) == 'audio']


def album_cover(album, songs):
    """The item whose thumbnail is the album's cover: its chosen cover, else the first song with embedded
    art; None when there is none."""
    chosen = next((item for item in songs if item.id == album.cover_id and item.thumbnail), None)
    return chosen or next((item for item in songs if item.thumbnail), None)


def album_artist(songs):
    """The artist most of an album's songs name (their album artist, else their artist); None if none."""
    names = Counter(song.album_artist or song.artist for song in songs if song.album_artist or song.artist)
    return names.most_common(1)[0][0] if names else None


def shown_duration(seconds):
    """'3:07' or '1:02:03'; '' when unknown."""
    if not seconds:
        return ''
    minutes, secs = divmod(int(round(seconds)), 60)
    return '%d:%02d:%02d' % (minutes // 60, minutes % 60, secs) if minutes >= 60 else '%d:%02d' % (minutes, secs)


def song_album(store, item):
    """The album a song's watch page links to: its music album, else the album it is in that is mostly
    songs (a folder album standing for its tagged album, or a peer's album); None when there is none."""
    if item.is_local and not item.music_album:
        return None
    Album, AlbumItem = store.database.Album, store.database.AlbumItem
    return (Album.select().join(AlbumItem).where(AlbumItem.item == item.id)
            .order_by(Album.kind != 'music', Album.kind != 'folder', Album.name).first())
