"""Subtitles of videos, offered to browsers as WebVTT `<track>`s.

Two sources: sidecar files beside a video (`Film.srt`, `Film.vtt`, `Film.en.srt`, `Film.de.forced.srt`),
read and converted here in Python, and the text subtitle streams inside a file (SubRip, ASS/SSA, mov_text,
WebVTT), extracted once by ffmpeg through privtube_probe's pipe-only runner (`-c:s webvtt`, no video is
decoded). Picture subtitles (PGS, DVD) cannot become text and are skipped. Each track is cleaned into
WebVTT once and cached at cache/subtitles/ITEM/SID.vtt; the item lists them in `subtitles`
([{id, lang, label}], sent to peers in the catalog). Ids are 'track-N' (the file's Nth subtitle stream)
and 'file-…' (a sidecar, after its name's language and flags); a requested id is only ever looked up in
that list, never made into a path.

Sidecars are no items of their own (the scanner passes them by); a scan that finds them added, changed or
removed refreshes the video's list without probing it again.
"""
import json
import logging
import os
import re
import shutil
import subprocess

import bottle

import privtube_media as media
from privtube_items import MAX_LANG, MAX_SUBTITLE_LABEL, MAX_SUBTITLES, SUBTITLE_ID
from privtube_peer import PeerError
from privtube_registry import split_remote
from privtube_store import StoreError, remove_quietly

logger = logging.getLogger('privtube.subtitles')

SIDECAR_EXTENSIONS = ('.srt', '.vtt')
MAX_SUBTITLE_BYTES = 2 * 1024 * 1024      # a two-hour film's subtitles are about 100 kB
EXTRACT_SECONDS = 120
TEXT_CODECS = {'subrip', 'srt', 'ass', 'ssa', 'mov_text', 'webvtt', 'text'}
FLAGS = {'forced': 'forced', 'sdh': 'for the hard of hearing', 'hi': 'for the hard of hearing',
         'cc': 'for the hard of hearing'}
LANGUAGES = {   # language code: its name in its own language, as a person picks it from a menu
    'en': 'English', 'de': 'Deutsch', 'fr': 'Français', 'es': 'Español', 'it': 'Italiano', 'nl': 'Nederlands',
    'pt': 'Português', 'sv': 'Svenska', 'da': 'Dansk', 'no': 'Norsk', 'nb': 'Norsk bokmål', 'fi': 'Suomi',
    'pl': 'Polski', 'cs': 'Čeština', 'hu': 'Magyar', 'el': 'Ελληνικά', 'tr': 'Türkçe', 'ru': 'Русский',
    'uk': 'Українська', 'ar': 'العربية', 'he': 'עברית', 'hi': 'हिन्दी', 'ja': '日本語', 'ko': '한국어',
    'zh': '中文', 'ro': 'Română', 'hr': 'Hrvatski', 'sr': 'Српски', 'sk': 'Slovenčina', 'sl': 'Slovenščina',
    'bg': 'Български', 'ca': 'Català', 'is': 'Íslenska', 'et': 'Eesti', 'lv': 'Latviešu', 'lt': 'Lietuvių',
    'th': 'ไทย', 'vi': 'Tiếng Việt', 'id': 'Bahasa Indonesia', 'fa': 'فارسی',
}
THREE_LETTERS = {   # ISO 639-2 codes, as containers tag their streams
    'eng': 'en', 'ger': 'de', 'deu': 'de', 'fre': 'fr', 'fra': 'fr', 'spa': 'es', 'ita': 'it', 'dut': 'nl',
    'nld': 'nl', 'por': 'pt', 'swe': 'sv', 'dan': 'da', 'nor': 'no', 'nob': 'nb', 'fin': 'fi', 'pol': 'pl',
    'cze': 'cs', 'ces': 'cs', 'hun': 'hu', 'gre': 'el', 'ell': 'el', 'tur': 'tr', 'rus': 'ru', 'ukr': 'uk',
    'ara': 'ar', 'heb': 'he', 'hin': 'hi', 'jpn': 'ja', 'kor': 'ko', 'chi': 'zh', 'zho': 'zh', 'rum': 'ro',
    'ron': 'ro', 'hrv': 'hr', 'srp': 'sr', 'slo': 'sk', 'slk': 'sk', 'slv': 'sl', 'bul': 'bg', 'cat': 'ca',
    'ice': 'is', 'isl': 'is', 'est': 'et', 'lav': 'lv', 'lit': 'lt', 'tha': 'th', 'vie': 'vi', 'ind': 'id',
    'per': 'fa', 'fas': 'fa',
}
LANG_TAG = re.compile(r'^[a-z]{2,3}(-[a-z0-9]{2,8})?\Z', re.I)
TIMING = re.compile(r'^\s*((?:\d{1,3}:)?\d{1,2}:\d{1,2}[,.]\d{1,3})\s*-->\s*((?:\d{1,3}:)?\d{1,2}:\d{1,2}[,.]\d{1,3})'
                    r'(.*)$')
SETTING = re.compile(r'^(vertical|line|position|size|align):[A-Za-z0-9.%,-]{1,20}\Z')
STYLE_TAG = re.compile(r'<(/?)([biu])>', re.I)
ANY_TAG = re.compile(r'<[^>\n]{0,200}>')
ASS_OVERRIDE = re.compile(r'\{\\[^}]{0,200}\}')


class NotSubtitles(ValueError):
    """A file or stream that does not hold text subtitles privtube can show."""


# --- text --------------------------------------------------------------------------------------------

def decoded(data):
    """Subtitle bytes as text: UTF-8 (with or without a byte-order mark), UTF-16 with one, else the
    Windows Western code page (what most old .srt files are in), else Latin-1, which reads any bytes."""
    if data.startswith((b'\xff\xfe', b'\xfe\xff')):
        text = data.decode('utf-16', 'replace')
    else:
        for encoding in ('utf-8-sig', 'cp1252', 'latin-1'):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    if '\x00' in text:
        raise NotSubtitles('binary data')
    return text.lstrip('\ufeff')


def to_webvtt(data):
    """WebVTT made from SubRip or WebVTT bytes, cue by cue: timings rewritten in WebVTT's form, cue text
    kept as text (only <b>, <i> and <u> survive; a `-->` inside a cue cannot start a new one). NotSubtitles
    when no cue is found."""
    if len(data) > MAX_SUBTITLE_BYTES:
        raise NotSubtitles('larger than %d bytes' % MAX_SUBTITLE_BYTES)
    text = decoded(data).replace('\r\n', '\n').replace('\r', '\n')
    cues = [cue for cue in (webvtt_cue(block) for block in re.split(r'\n[ \t]*\n', text)) if cue]
    if not cues:
        raise NotSubtitles('no cues')
    return ('WEBVTT\n\n' + '\n\n'.join(cues) + '\n').encode('utf-8')


def webvtt_cue(block):
    """One cue of WebVTT from a SubRip or WebVTT block (counter or identifier, timing, text); None for a
    block with no timing line (a header, a NOTE or STYLE block, junk)."""
    lines = block.strip('\n').split('\n')
    for at, line in enumerate(lines[:2]):
        found = TIMING.match(line)
        if found:
            start, end = timestamp(found.group(1)), timestamp(found.group(2))
            if start is None or end is None or end < start:
                return None
            body = [cue_text(text) for text in lines[at + 1:]]
            body = [text for text in body if text.strip()]
            return '\n'.join([shown(start) + ' --> ' + shown(end) + settings(found.group(3))] + body) if body else None
    return None


def timestamp(text):
    """Seconds of '01:02:03,456', '02:03.4' or the like; None when a part is out of range."""
    clock, _, fraction = text.replace(',', '.').partition('.')
    parts = [int(part) for part in clock.split(':')]
    hours, minutes, secs = ([0] + parts)[-3:]
    if minutes > 59 or secs > 59:
        return None
    return hours * 3600 + minutes * 60 + secs + int(fraction.ljust(3, '0')[:3]) / 1000


def shown(total):
    millis = int(round(total * 1000))
    hours, millis = divmod(millis, 3600000)
    minutes, millis = divmod(millis, 60000)
    return '%02d:%02d:%02d.%03d' % (hours, minutes, millis // 1000, millis % 1000)


def settings(rest):
    """The cue settings of a WebVTT timing line that are well formed; SubRip's coordinates are dropped."""
    kept = [word for word in rest.split() if SETTING.match(word)]
    return ' ' + ' '.join(kept) if kept else ''


def cue_text(line):
    """A line of cue text with markup reduced to <b>, <i>, <u> and the rest escaped."""
    line = ASS_OVERRIDE.sub('', line).replace('-->', '→')
    styles = []

    def keep(match):
        styles.append('<%s%s>' % (match.group(1), match.group(2).lower()))
        return '\x01%d\x02' % (len(styles) - 1)
    line = ANY_TAG.sub('', STYLE_TAG.sub(keep, line))
    line = line.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
    return re.sub('\x01([0-9]+)\x02', lambda m: styles[int(m.group(1))], line.replace('\x00', ''))


def is_webvtt(data):
    """True for bytes that begin as a WebVTT file does (what a peer's answer must be to be passed on)."""
    head = data[3:] if data.startswith(b'\xef\xbb\xbf') else data
    return head.startswith(b'WEBVTT') and (len(head) == 6 or head[6:7] in (b' ', b'\t', b'\n', b'\r'))


# --- names and languages -----------------------------------------------------------------------------

def is_sidecar(name):
    return name.lower().endswith(SIDECAR_EXTENSIONS)


def language(code):
    """A BCP 47 tag for a two- or three-letter code ('eng' → 'en'); '' when it is none."""
    code = (code or '').strip().lower().replace('_', '-')
    if not LANG_TAG.match(code):
        return ''
    base, _, region = code.partition('-')
    base = THREE_LETTERS.get(base, base)
    if base in ('und', 'zxx', 'mul'):       # undetermined, no language, several
        return ''
    return (base + ('-' + region.upper() if region else ''))[:MAX_LANG]


def label_of(lang, flags=(), title=''):
    """What a person reads in the player's menu: 'English', 'Deutsch (forced)', or 'Subtitles'."""
    name = LANGUAGES.get(lang.split('-')[0]) or (title or '').strip() or 'Subtitles'
    notes = [FLAGS[flag] for flag in dict.fromkeys(flags) if flag in FLAGS]
    return (name + (' (%s)' % ', '.join(dict.fromkeys(notes)) if notes else ''))[:MAX_SUBTITLE_LABEL]


def sidecar_track(video_name, name):
    """(sid, lang, label) for the sidecar `name` of the video `video_name` (both file names); None when
    it belongs to no such video."""
    stem = os.path.splitext(video_name)[0]
    base = os.path.splitext(name)[0]
    if base != stem and not base.startswith(stem + '.'):
        return None
    parts = [part.lower() for part in base[len(stem) + 1:].split('.') if part]
    lang = next((language(part) for part in parts if part not in FLAGS and language(part)), '')
    flags = [part for part in parts if part in FLAGS]
    slug = '-'.join(re.sub(r'[^a-z0-9]+', '', part) for part in parts)
    return ('file-' + slug if slug else 'file')[:28].rstrip('-'), lang, label_of(lang, flags)


def embedded_track(ordinal, stream):
    """(sid, lang, label) of the file's text subtitle stream number `ordinal`; None for a picture one."""
    if stream.get('codec_name') not in TEXT_CODECS:
        return None
    tags = stream.get('tags') if isinstance(stream.get('tags'), dict) else {}
    lang = language(str(tags.get('language') or ''))
    disposition = stream.get('disposition') if isinstance(stream.get('disposition'), dict) else {}
    flags = ['forced'] * bool(disposition.get('forced')) + ['sdh'] * bool(disposition.get('hearing_impaired'))
    return 'track-%d' % ordinal, lang, label_of(lang, flags, str(tags.get('title') or '')[:MAX_SUBTITLE_LABEL])


def unique(sid, taken):
    """`sid`, or `sid-2`, `sid-3`… when a track of the item already has it."""
    candidate, number = sid, 1
    while candidate in taken:
        number += 1
        candidate = '%s-%d' % (sid, number)
    taken.add(candidate)
    return candidate


# --- the cache and the item's list ---------------------------------------------------------------------

class Subtitles:
    """The subtitle tracks of a node's own videos: found, converted, cached and listed on their items."""

    def __init__(self, store):
        self.store, self.database = store, store.database
        self.root = os.path.join(store.cache_dir, 'subtitles')

    is_sidecar = staticmethod(is_sidecar)

    def folder(self, item_id):
        return os.path.join(self.root, item_id)

    def path(self, item, sid):
        """The cached WebVTT of the track `sid` of a local item; StoreError 404 unless the item lists it."""
        if not isinstance(sid, str) or not SUBTITLE_ID.match(sid) or sid not in track_ids(item):
            raise StoreError('this item has no such subtitles', 404)
        return os.path.join(self.folder(item.id), sid + '.vtt')

    def read(self, item, sid):
        try:
            with open(self.path(item, sid), 'rb') as fh:
                return fh.read(MAX_SUBTITLE_BYTES + 1)[:MAX_SUBTITLE_BYTES]
        except OSError:
            raise StoreError('these subtitles are not ready yet', 404)

    # --- found when a video is probed

    def of_probe(self, item, fh, demuxer, streams):
        """The item's full list after a probe: its text streams (extracted now) and its sidecars."""
        tracks, taken = [], set()
        texts = [stream for stream in streams if stream.get('codec_type') == 'subtitle']
        for ordinal, stream in enumerate(texts[:MAX_SUBTITLES]):
            track = embedded_track(ordinal, stream)
            if track is None:
                continue
            try:
                self.write(item.id, track[0], to_webvtt(extract(fh, demuxer, ordinal)))
            except NotSubtitles as exc:
                logger.info('subtitle stream %d of %s not offered: %s', ordinal, item.id, exc)
                continue
            tracks.append(entry(unique(track[0], taken), track[1], track[2]))
        return tracks + self.sidecar_tracks(item, taken, room=MAX_SUBTITLES - len(tracks))

    # --- sidecars

    def sidecars_of(self, item):
        """[(name, size, mtime_ns)] of the subtitle files beside a local video, by name."""
        full = self.store.full_path(item.path)
        if full is None:
            return []
        folder, video = os.path.split(full)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return []
        found = []
        for sidecar in entries:
            if (is_sidecar(sidecar.name) and sidecar_track(video, sidecar.name) and sidecar.is_file()
                    and self.store.inside(sidecar.path)):      # a link out of the media folder is not read
                stat = sidecar.stat()
                found.append((sidecar.name, stat.st_size, stat.st_mtime_ns))
        return sorted(found)

    def sidecar_tracks(self, item, taken, room=MAX_SUBTITLES):
        """Convert and cache the sidecars of `item`; their entries for its list."""
        full = self.store.full_path(item.path)
        sidecars = self.sidecars_of(item)
        tracks = []
        for name, size, _ in sidecars[:max(0, room)]:
            sid, lang, label = sidecar_track(os.path.basename(full), name)
            try:
                data = read_sidecar(os.path.join(os.path.dirname(full), name), size)
                converted = to_webvtt(data)
            except (NotSubtitles, OSError) as exc:
                logger.info('subtitle file %s not offered: %s', name, exc)
                continue
            sid = unique(sid, taken)
            self.write(item.id, sid, converted)
            tracks.append(entry(sid, lang, label))
        self.remember_sidecars(item.id, sidecars)
        return tracks

    def remember_sidecars(self, item_id, sidecars):
        os.makedirs(self.folder(item_id), exist_ok=True)
        write_atomically(os.path.join(self.folder(item_id), 'sidecars.json'),
                         json.dumps([list(sidecar) for sidecar in sidecars]).encode())

    def remembered_sidecars(self, item_id):
        try:
            with open(os.path.join(self.folder(item_id), 'sidecars.json'), 'rb') as fh:
                return [tuple(sidecar) for sidecar in json.loads(fh.read(1024 * 1024))]
        except (OSError, ValueError, TypeError):
            return None

    def refresh_sidecars(self, folders):
        """After a scan: the videos in `folders` (relative paths holding subtitle files) and those that
        listed sidecars before get their list again when their sidecars changed. Returns how many."""
        Item = self.database.Item
        videos = Item.select().where((Item.origin == 'local') & Item.trashed.is_null()
                                     & Item.mime.startswith('video/') & (Item.media_state == 'done'))
        changed = 0
        for item in videos.iterator():
            had = any(sid.startswith('file') for sid in track_ids(item))
            if (had or os.path.dirname(item.path) in folders) and self.sidecars_changed(item):
                changed += self.refresh(item)
        return changed

    def sidecars_changed(self, item):
        return self.remembered_sidecars(item.id) != self.sidecars_of(item)

    def refresh(self, item):
        """Read the sidecars of `item` again, keeping its embedded tracks; 1 when its list changed."""
        kept = [track for track in item.subtitles if track['id'].startswith('track-')]
        tracks = kept + self.sidecar_tracks(item, {track['id'] for track in kept}, MAX_SUBTITLES - len(kept))
        return self.save_list(item, tracks)

    def save_list(self, item, tracks):
        """Write `tracks` as the item's list when it changed, with a new change number (peers see it);
        cached files no longer listed are removed. 1 when it changed."""
        with self.database.db.atomic():
            fresh = self.database.Item.get_or_none(self.database.Item.id == item.id)
            if fresh is None or fresh.subtitles == tracks:
                return 0
            fresh.subtitles = tracks
            self.store.catalog.touch(fresh)
            fresh.save()
        self.drop_unlisted(item.id, tracks)
        return 1

    def drop_unlisted(self, item_id, tracks):
        listed = {track['id'] + '.vtt' for track in tracks} | {'sidecars.json'}
        try:
            names = os.listdir(self.folder(item_id))
        except OSError:
            return
        for name in names:
            if name not in listed:
                remove_quietly(os.path.join(self.folder(item_id), name))

    def forget(self, item_id):
        shutil.rmtree(self.folder(item_id), ignore_errors=True)

    def write(self, item_id, sid, data):
        os.makedirs(self.folder(item_id), exist_ok=True)
        write_atomically(os.path.join(self.folder(item_id), sid + '.vtt'), data)


def entry(sid, lang, label):
    return {'id': sid, 'lang': lang, 'label': label}


def track_ids(item):
    return [track.get('id') for track in item.subtitles or () if isinstance(track, dict)]


def read_sidecar(path, size):
    if size > MAX_SUBTITLE_BYTES:
        raise NotSubtitles('larger than %d bytes' % MAX_SUBTITLE_BYTES)
    with open(path, 'rb') as fh:
        return fh.read(MAX_SUBTITLE_BYTES + 1)


def write_atomically(target, data):
    temp = target + '.tmp'
    with open(temp, 'wb') as out:
        out.write(data)
    os.replace(temp, target)


def extract(fh, demuxer, ordinal):
    """The file's `ordinal`th subtitle stream as WebVTT bytes, by ffmpeg reading the file on its standard
    input (no input path, no other protocol) and writing to its standard output."""
    import privtube_probe as probe  # deferred: the media worker that calls this lives there
    ffmpeg = probe.ffmpeg_path()
    if not ffmpeg:
        raise NotSubtitles('no ffmpeg')
    command = [ffmpeg, '-nostdin', '-loglevel', 'error'] + probe.input_options(demuxer) + [
        '-map', '0:s:%d' % ordinal, '-c:s', 'webvtt', '-f', 'webvtt', 'pipe:1']
    try:
        done = probe.run_on_file(command, fh, EXTRACT_SECONDS)
    except (subprocess.TimeoutExpired, OSError) as exc:
        raise NotSubtitles('ffmpeg did not finish: %s' % exc)
    if done.returncode != 0:
        raise NotSubtitles('ffmpeg: ' + probe.tool_message(done.stderr))
    return done.stdout


# --- the watch page -------------------------------------------------------------------------------

PAGE_LANGUAGE = 'en'        # the pages' language (views/base.tpl's <html lang>)
FORCED_NOTE = re.compile(r'\((?:[^()]*, )?forced(?:, [^()]*)?\)\Z')


def is_forced(track):
    """True for a forced track (the lines of a film's foreign-language parts). The contract's entries are
    {id, lang, label} alone: the flag is read from the note label_of() puts in the label, which peers'
    labels carry too ('Deutsch (forced)')."""
    return bool(FORCED_NOTE.search(track.get('label') or ''))


def default_track(tracks, page_language=PAGE_LANGUAGE):
    """The id of the track a film starts with switched on: its forced track in the page's language, else
    its only forced track; None (every track off until picked) when there is none or no way to choose."""
    forced = [track for track in tracks if is_forced(track)]
    mine = [track for track in forced if (track.get('lang') or '').split('-')[0].lower() == page_language]
    chosen = mine[:1] or (forced if len(forced) == 1 else [])
    return chosen[0]['id'] if chosen else None


# --- serving -----------------------------------------------------------------------------------------

PEER_DEADLINE = 2.0


def webvtt_response(data):
    bottle.response.content_type = 'text/vtt; charset=utf-8'
    bottle.response.set_header('X-Content-Type-Options', 'nosniff')
    return data


def of_peer(node, item, sid):
    """A peer's item's track: from the node's cache of peers' tracks, else read from its origin and kept
    there (so it still loads when the peer is off, and is not fetched at every view)."""
    if not SUBTITLE_ID.match(sid) or sid not in track_ids(item):
        raise StoreError('this item has no such subtitles', 404)
    cache = node.registry.subtitles
    data = cache.read(item, sid)
    if data is None:
        data = from_origin(node, item, sid)
        cache.keep(item, sid, data)
    return data


def from_origin(node, item, sid):
    """A peer's item's track, read from its origin (through the node's pool of page calls, with a size
    cap and a short deadline), passed on only when it is WebVTT."""
    origin, remote_id = split_remote(item.id)
    path = '/content/%s/subtitles/%s' % (remote_id, sid)
    reply = node.remote.call(origin, lambda client: client.request(
        'GET', path, headers={'Accept': 'text/vtt'}, max_bytes=MAX_SUBTITLE_BYTES, deadline=PEER_DEADLINE))
    if reply.status == 404:
        raise StoreError('these subtitles are not at %s any more' % origin, 404)
    body = bytes(reply.body)
    if reply.status != 200 or not is_webvtt(body):
        raise PeerError('%s did not send subtitles' % origin, 502)
    return body


def register(app, web):
    """`GET /subtitles/ID/SID`: a track of an item the person may see, from the cache or its origin."""
    node, store = web.node, web.node.store
    subtitles = Subtitles(store)

    @app.get('/subtitles/<item_id>/<sid>')
    def subtitle_track(page, item_id, sid):
        item = store.items.visible(page.principal, item_id)
        if media.media_kind(item.mime) != 'video':
            raise StoreError('this item has no such subtitles', 404)
        return webvtt_response(subtitles.read(item, sid) if item.is_local else of_peer(node, item, sid))
