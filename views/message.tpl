% rebase('base', title=title, user=user)
<h1>{{title}}</h1>
<p class="message">{{message}}</p>
<p class="actions"><a href="/">Back to the start page</a></p>
