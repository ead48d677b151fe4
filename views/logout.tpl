% rebase('base', title='Sign out', user=user)
<h1>Sign out</h1>
<form method="post" action="/logout" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <button type="submit">Sign out of privtube</button>
</form>
