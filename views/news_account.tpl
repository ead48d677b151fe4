<h2 id="digest">What's new by e-mail</h2>
% if digest['error']:
<p class="error" role="alert">{{digest['error']}}</p>
% end
% if digest['saved']:
<p class="message" role="status">Your e-mail choice was saved.</p>
% end
% if not digest['mail_ready']:
<p class="note">This node has no mail server set up yet ([mail] smtp_host in config.ini): no e-mail is sent until its administrator sets one.</p>
% end
<form method="post" action="/account/digest" class="card news-digest">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>E-mail address <input type="email" name="email" value="{{digest['email']}}" maxlength="254" autocomplete="email"></label>
  <fieldset><legend>Send me what is new</legend>
  % for value, label in digest['frequencies']:
    <label><input type="radio" name="digest" value="{{value}}"{{' checked' if digest['digest'] == value else ''}}> {{label}}</label>
  % end
  </fieldset>
  <button type="submit">Save</button>
</form>
