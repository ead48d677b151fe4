% rebase('base', title='Changed', user=user)
<h1>Done</h1>
<p class="message" id="summary">{{summary}}</p>
<p class="actions"><a href="{{back}}">Back</a></p>
