% rebase('base', title=title, user=user)
<h1>{{title}}</h1>
<form method="post" action="{{action}}" class="card danger">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <input type="hidden" name="confirm" value="yes">
  % for field, value in get('fields', {}).items():
  <input type="hidden" name="{{field}}" value="{{value}}">
  % end
  <p>{{message}}</p>
  <button type="submit">{{button}}</button>
  <a class="cancel" href="{{back}}">Cancel</a>
</form>
