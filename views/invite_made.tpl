% rebase('base', title='Invite link', user=user)
% include('admin_nav')
<h1>Invite link</h1>
<p class="message" role="status">Send this link to the person you invite. It works once, for {{days}} day{{'' if days == 1 else 's'}}, and they join {{', '.join(groups) if groups else 'no group (they see only what they add)'}}. It is shown only now.</p>
<div class="card invite-link">
  <input id="invite-link" readonly value="{{link}}" aria-label="Invite link">
  <button type="button" data-copy="invite-link">Copy</button>
</div>
<p><a href="/admin/users#invites">Back to the users</a></p>
