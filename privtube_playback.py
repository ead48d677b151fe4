"""Where each person stopped in a video or song: one position per person and item (the node's own items
and peers' alike), kept on the person's own node. It gives the watch page its resume point, the home page
its "Continue watching" row, and cards their progress bars and "Watched" marks.
"""
import json
import math
import time

import bottle

import privtube_media as media
from privtube_api import json_body
from privtube_store import StoreError

RESUME_FROM = 10.0          # nearer the start than this, a reopened item starts from the beginning
FINISHED_SHARE = 0.95       # an item watched this far is finished (the credits need not be sat through)
FINISHED_LEFT = 30.0        # ... and so is one of at least LONG_ENOUGH seconds with this little left
LONG_ENOUGH = 300.0         # (in a short clip, 30 s before the end is still the middle)
MAX_SECONDS = 10 ** 7       # about 115 days: any longer "position" is not a real one
CONTINUE_LIMIT = 12


def seconds(value, name, required=True):
    """A number of seconds sent by a player: finite, not negative, not absurd; None when absent and
    not `required`. StoreError (400) for anything else, so a bad number is never stored."""
    if value in (None, '') and not required:
        return None
    if isinstance(value, bool):
        raise StoreError('%s must be a number of seconds' % name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StoreError('%s must be a number of seconds' % name)
    if not math.isfinite(number) or not 0 <= number <= MAX_SECONDS:
        raise StoreError('%s must be a number of seconds from 0 to %d' % (name, MAX_SECONDS))
    return number


def is_finished(position, duration):
    """True when so little is left of an item of `duration` seconds that it counts as watched."""
    if not duration:
        return False
    left = duration - position
    return position >= duration * FINISHED_SHARE or (duration >= LONG_ENOUGH and left <= FINISHED_LEFT)


class Playback:
    """The positions of one node's people (database.Playback rows, keyed by user and item)."""

    def __init__(self, store):
        self.store, self.database = store, store.database

    def record(self, user, item, position, duration=None):
        """Keep where `user` is in `item`. The item's own duration (from probing, or its origin's
        catalog) is trusted over the player's. Reopening a finished item and stopping within the first
        seconds leaves it finished: only watching past RESUME_FROM starts it anew."""
        duration = item.duration or duration or None
        if duration:
            position = min(position, duration)
        finished = is_finished(position, duration)
        Row = self.database.Playback
        before = Row.get_or_none((Row.user == user.id) & (Row.item == item.id))
        if before is not None and before.finished and not finished and position < RESUME_FROM:
            return before
        values = {'position': position, 'duration': duration, 'finished': finished, 'updated': time.time()}
        Row.insert(user=user.id, item=item.id, **values).on_conflict(
            conflict_target=[Row.user, Row.item], update=values).execute()
        return Row.get((Row.user == user.id) & (Row.item == item.id))

    def state(self, user, item):
        Row = self.database.Playback
        return Row.get_or_none((Row.user == user.id) & (Row.item == item.id))

    def resume_point(self, user, item):
        """Seconds to start `item` from for `user`; None to start at the beginning (never watched, barely
        begun, or finished)."""
        row = self.state(user, item)
        if row is None or row.finished or row.position < RESUME_FROM:
            return None
        return row.position

    def continue_watching(self, user, principal, limit=CONTINUE_LIMIT):
        """Items `user` began and did not finish, most recently watched first: only those `principal` may
        still see (an item made private, trashed or no longer shared drops out)."""
        Item, Row = self.database.Item, self.database.Playback
        query = self.store.items.visible_query(principal).join(Row, on=(Row.item == Item.id)).where(
            (Row.user == user.id) & (Row.finished == False) & (Row.position >= RESUME_FROM))  # noqa: E712
        return list(query.order_by(Row.updated.desc()).limit(limit))

    def marks(self, user, items):
        """{item id: (share watched from 0 to 1, finished)} of the `items` `user` has begun: what the cards
        show as a progress bar or "Watched"."""
        ids = [item.id for item in items]
        if not ids:
            return {}
        rows = self.database.db.execute_sql(      # plain SQL: every grid of every page asks
            'SELECT item_id, position, duration, finished FROM playback WHERE user_id = ? '
            'AND item_id IN (SELECT value FROM json_each(?))', (user.id, json.dumps(ids))).fetchall()
        return {item_id: (min(1.0, position / duration) if duration else 0.0, bool(finished))
                for item_id, position, duration, finished in rows}

    def mark_watched(self, user, item):
        """Keep `item` as watched to its end by `user`, whatever they saw of it (they saw it elsewhere)."""
        Row, duration = self.database.Playback, item.duration or None
        values = {'position': duration or 0.0, 'duration': duration, 'finished': True, 'updated': time.time()}
        Row.insert(user=user.id, item=item.id, **values).on_conflict(
            conflict_target=[Row.user, Row.item], update=values).execute()

    def is_watched(self, user, item):
        row = self.state(user, item)
        return bool(row and row.finished)

    def forget(self, user, item):
        """Drop where `user` stopped in `item` (it leaves "Continue watching" and loses "Watched")."""
        Row = self.database.Playback
        return Row.delete().where((Row.user == user.id) & (Row.item == item.id)).execute()

    def clear(self, user):
        """Drop every position of `user`."""
        Row = self.database.Playback
        return Row.delete().where(Row.user == user.id).execute()


def clock(total):
    """A duration as a player shows it: '3:07', or '1:02:03' for an hour or more."""
    total = int(round(total or 0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return '%d:%02d:%02d' % (hours, minutes, secs) if hours else '%d:%02d' % (minutes, secs)


def register(app, web):
    """`POST /watch/ID/position`, which the watch page's player (views/static/playback.js) sends while it
    plays, on pause and seek, and as a beacon when the page is left. A script sends the CSRF token in the
    X-CSRF-Token header; a beacon cannot set headers and sends it as the form field `csrf`.

    And the buttons a person presses: `POST /watch/ID/watched` and `/watch/ID/unwatched` (the watch
    page) and `POST /continue/ID/remove` (a card of the home page's "Continue watching"). Each is a plain
    form answered with 303 to its page; a script that asks for JSON (playback.js) gets `{"watched": …}`
    and changes the page in place."""
    store = web.node.store
    playback = Playback(store)

    def playable(page, item_id):
        """The video or song `item_id` if this person may see it (404 otherwise; 400 for a photo or file)."""
        item = store.items.visible(page.principal, item_id)
        if media.media_kind(item.mime) not in ('video', 'audio'):
            raise StoreError('only videos and songs have a playback position')
        return item

    @app.post('/watch/<item_id>/watched')
    def mark_watched(page, item_id):
        item = playable(page, item_id)
        playback.mark_watched(page.user, item)
        return done(True, '/watch/' + item.id)

    @app.post('/watch/<item_id>/unwatched')
    def mark_unwatched(page, item_id):
        item = playable(page, item_id)
        playback.forget(page.user, item)
        return done(False, '/watch/' + item.id)

    @app.post('/continue/<item_id>/remove')
    def leave_continue_watching(page, item_id):
        item = playable(page, item_id)
        playback.forget(page.user, item)
        return done(False, '/')

    @app.post('/watch/<item_id>/position')
    def save_position(page, item_id):
        item = playable(page, item_id)
        position, duration = sent_position()
        row = playback.record(page.user, item, position, duration)
        return {'position': row.position, 'finished': bool(row.finished)}


def done(watched, back):
    """The answer to a button: JSON for a script that asked for it, else 303 back to the page it was on."""
    if 'application/json' in (bottle.request.headers.get('Accept') or ''):
        return {'watched': watched}
    from privtube_web import see_other  # deferred: the web app imports this module
    see_other(back)


def sent_position():
    """(position, duration or None) from a JSON body or a form (a beacon's)."""
    if (bottle.request.content_type or '').startswith('application/json'):
        sent = json_body(limit=1024)
    else:
        sent = {'position': bottle.request.forms.get('position'), 'duration': bottle.request.forms.get('duration')}
    return seconds(sent.get('position'), 'position'), seconds(sent.get('duration'), 'duration', required=False)
