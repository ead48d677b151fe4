"""Comment bodies as the watch page shows them: the text escaped, and times such as `0:45`, `12:07` or
`1:02:03` made links that seek the page's player (views/static/comments.js does the same for a comment
added in place, and seeks on click)."""
import html
import re

# a "word" is a run of ASCII letters, digits, '_' and ':'; a whole word that reads as a time is one, so
# `12:07pm`, `1:2:3` and `10:61` stay text (views/static/comments.js uses the same two patterns)
WORD = re.compile(r'[A-Za-z0-9_:]+')
TIME = re.compile(r'(?:([0-9]{1,2}):([0-5][0-9])|([0-9]{1,3})):([0-5][0-9])')


def seconds_of(word):
    """The seconds a word such as '1:02:03' names, or None when it is not a time."""
    found = TIME.fullmatch(word)
    if found is None:
        return None
    hours, minutes, alone, seconds = found.groups()
    return int(hours or 0) * 3600 + int(minutes or alone) * 60 + int(seconds)


def body_html(body, seek_links=True):
    """`body` as HTML: every character escaped, and each time (with `seek_links`) an `<a class="seek">`
    whose `data-seek` holds its seconds. Only this function's own tags reach the page."""
    parts, start = [], 0
    for word in WORD.finditer(body) if seek_links else ():
        seconds = seconds_of(word.group())
        if seconds is None:
            continue
        parts.append(html.escape(body[start:word.start()]))
        parts.append('<a class="seek" href="#player" data-seek="%d">%s</a>' % (seconds, html.escape(word.group())))
        start = word.end()
    parts.append(html.escape(body[start:]))
    return ''.join(parts)
