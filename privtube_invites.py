"""Invite links: an admin makes a one-time, expiring link with the groups a newcomer joins, and the newcomer
chooses their own name and password on its page. Only the token's hash is stored; a link is refused once used,
revoked or expired, and guessing links is throttled per client as sign-ins are."""
import hmac
import secrets
import time
from urllib.parse import quote

import bottle

import privtube_auth as auth
from privtube_items import shown_time
from privtube_web import CLIENT_LIMIT, Throttle, TryLater, WebError, client_bucket, render, see_other, try_later

DEFAULT_DAYS, MAX_DAYS = 7, 90
MAX_TOKEN = 100                 # a token is 43 characters; anything longer is not one of ours
DAY = 24 * 3600
# what a link that cannot be used says: the same for an unknown and a used one, so a page never tells a
# guesser which tokens once existed, or who took them
DEAD = {'unknown': ('This invite link does not work',
                    'It was already used, or it is not a link of this node. Ask whoever sent it for a new one.'),
        'expired': ('This invite link has expired', 'Ask whoever sent it for a new one.'),
        'revoked': ('This invite link was withdrawn', 'Ask whoever sent it for a new one.')}


class InviteError(WebError):
    """An invite link that cannot be used: `state` is a key of DEAD."""

    def __init__(self, state):
        super().__init__(DEAD[state][1], 404 if state == 'unknown' else 410)
        self.state = state


def invite_days(text):
    """The days an invite lasts, from a form or the command line: 1 to MAX_DAYS."""
    text = '%s' % (DEFAULT_DAYS if text in (None, '') else text)
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise auth.AuthError('an invite lasts 1 to %d days' % MAX_DAYS)
    return int(text)


def invite_link(config, token):
    """The link a newcomer opens: on the node's public_url, else the address `serve` listens on."""
    return '%s/invite?token=%s' % (config.base_url, quote(token, safe=''))


class Invites:
    """The invites of one node's database."""

    def __init__(self, database, accounts, clock=time.time):
        self.database, self.accounts, self.clock = database, accounts, clock

    def create(self, creator, groups=None, days=DEFAULT_DAYS):
        """A new invite by `creator` (a user or None from the command line) for the named groups (None:
        `members`, as a user added without --group); returns (row, token). Unknown groups are refused."""
        wanted = auth.each_once(['members'] if groups is None else groups, str)
        found = self.accounts.groups_named(wanted)
        missing = [name for name in wanted if name not in found]
        if missing:
            raise auth.AuthError('no group named %s' % missing[0])
        token, now = secrets.token_urlsafe(32), self.clock()
        row = self.database.Invite.create(token_hash=auth.token_hash(token), groups=wanted, created=now,
                                          created_by=creator.id if creator else None,
                                          expires=now + invite_days(days) * DAY)
        return row, token

    def open(self):
        """Invites still usable, the soonest to expire first."""
        Invite = self.database.Invite
        return list(Invite.select().where(Invite.used_at.is_null() & Invite.revoked.is_null()
                                          & (Invite.expires > self.clock())).order_by(Invite.expires))

    def revoke(self, invite_id):
        Invite = self.database.Invite
        if not Invite.update(revoked=self.clock()).where(
                (Invite.id == invite_id) & Invite.revoked.is_null() & Invite.used_at.is_null()).execute():
            raise WebError('no open invite with that number', 404)

    def usable(self, token):
        """The invite of `token` while it may be used; else InviteError saying why."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
            raise InviteError('unknown')
        digest = auth.token_hash(token)
        row = self.database.Invite.get_or_none(self.database.Invite.token_hash == digest)
        if row is None or not hmac.compare_digest(row.token_hash, digest) or row.used_at is not None:
            raise InviteError('unknown')
        if row.revoked is not None:
            raise InviteError('revoked')
        if row.expires <= self.clock():
            raise InviteError('expired')
        return row

    def accept(self, token, name, password):
        """The newcomer's account, in exactly the invite's groups (those that still exist), and the invite
        used: in one write transaction, so of two requests with one token only one makes an account."""
        auth.check_name(name, 'user name')
        self.usable(token)                              # refuse before the slow hash
        self.accounts.check_name_free(name)
        password_hash = auth.hash_password(password)
        Invite = self.database.Invite
        with self.database.db.atomic():
            invite = self.usable(token)                 # again, inside the lock: another may have used it
            user = self.accounts.add_user(name, password_hash, False,
                                          self.accounts.groups_named(invite.groups).values())
            Invite.update(used_at=self.clock(), used_by=user.id).where(
                (Invite.id == invite.id) & Invite.used_at.is_null()).execute()
        return user


def register(app, web):
    """The invite page (anonymous: the token is the credential) and the admin's create and revoke."""
    invites = web.node.invites
    register_invite_page(app, web, invites, Throttle(CLIENT_LIMIT, 300))
    register_invite_admin(app, web.node, invites)


def register_invite_page(app, web, invites, throttle):

    def checked(token):
        """The usable invite of `token`; a client that keeps sending bad tokens is slowed as a guesser."""
        client = client_bucket(web.client_address())
        wait = throttle.wait(client)
        if wait:
            raise TryLater('Too many invite links that do not work. Wait a few minutes and try again.', wait)
        try:
            return invites.usable(token)
        except InviteError:
            throttle.fail(client)
            raise

    @app.get('/invite', anonymous=True)
    def invite_form():
        token = bottle.request.query.get('token', '')
        return answer(web, lambda: invite_page(web, token, '', None) if checked(token) else None)

    @app.post('/invite', anonymous=True)
    def invite_submit():
        form = bottle.request.forms
        token, name = form.get('token', ''), (form.getunicode('username', '') or '').strip()
        return answer(web, lambda: accept(web, invites, checked, token, name))


def accept(web, invites, checked, token, name):
    """Make the newcomer's account and sign them in; the form again, with what was wrong, if it fails."""
    form = bottle.request.forms
    checked(token)
    if not web.sent_by_login_form():
        return invite_page(web, token, name, 'The form expired. Please send it again.', 403)
    password = form.getunicode('password', '') or ''
    if password != (form.getunicode('again', '') or ''):
        return invite_page(web, token, name, 'The two passwords differ. Type the same password twice.')
    try:
        user = invites.accept(token, name, password)
    except auth.AuthError as exc:
        return invite_page(web, token, name, str(exc)[:1].upper() + str(exc)[1:] + '.')
    web.start_session(user)
    see_other('/')


def answer(web, make_page):
    """The invite page, or the plain page of a link that cannot be used."""
    try:
        return make_page()
    except InviteError as dead:
        bottle.response.status = dead.status
        title, message = DEAD[dead.state]
        return render('message', title=title, message=message, user=None)
    except TryLater as refused:
        return render('message', title='Please wait', message=try_later(refused), user=None)


def invite_page(web, token, name, error, status=400):
    if error:
        bottle.response.status = status
    return render('invite', user=None, token=token, username=name, error=error, csrf=web.login_token())


def register_invite_admin(app, node, invites):

    @app.post('/admin/invites', admin=True)
    def invite_create(page):
        form = bottle.request.forms
        _, token = invites.create(page.user, form.getall('groups'), form.get('days'))
        return page.render('invite_made', link=invite_link(node.config, token), groups=form.getall('groups'),
                           days=invite_days(form.get('days')))

    @app.route('/admin/invites/<invite_id:int>/revoke', method=('GET', 'POST'), admin=True)
    def invite_revoke(page, invite_id):
        """Asks first (GET, or a POST without `confirm`), then revokes."""
        if bottle.request.method == 'GET' or bottle.request.forms.get('confirm') != 'yes':
            return page.render('confirm', title='Revoke this invite?', back='/admin/users',
                               action='/admin/invites/%d/revoke' % invite_id, button='Revoke',
                               message='Nobody can use the link after this.')
        invites.revoke(invite_id)
        see_other('/admin/users#invites')


def invite_rows(node):
    """What the admin's list of open invites shows: number, groups, when it expires, who made it."""
    return [{'id': row.id, 'groups': ', '.join(row.groups) or 'no group', 'expires': shown_time(row.expires),
             'by': row.created_by.name if row.created_by_id else 'the command line'}
            for row in node.invites.open()]

