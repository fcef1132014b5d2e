// pgq dashboard client: live updates (server-sent events, falling back to polling a JSON endpoint
// every 2 s), confirm dialogs for actions, and keyboard shortcuts. Plain browser JavaScript, no
// build step; served by the dashboard handler as a static file (no inline script: CSP-friendly).
;(() => {
  const body = document.body
  const watchedJob = body.dataset.job || ''
  const renderedState = body.dataset.state || ''
  const status = document.querySelector('[data-live-status]')

  // ---- confirm before any action ----
  document.addEventListener('submit', (event) => {
    const form = event.target
    if (!(form instanceof HTMLFormElement)) return
    const question = form.dataset.confirm
    if (question && !window.confirm(question)) event.preventDefault()
  })

  // ---- live updates ----
  const setMode = (mode) => {
    if (!status) return
    status.textContent = mode
    status.dataset.mode = mode
  }
  const number = (n) => Number(n).toLocaleString('en-US')
  const duration = (ms) => {
    if (ms < 1000) return `${Math.round(ms)} ms`
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`
    const s = Math.floor(ms / 1000)
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`
  }
  // sets a value; a changed count flashes (a lag, which changes every second, does not)
  const setText = (el, text, flash = true) => {
    if (!el || el.textContent === text) return
    el.textContent = text
    if (!flash) return
    el.classList.remove('flash')
    void el.offsetWidth
    el.classList.add('flash')
  }

  const onCounts = (data) => {
    const totals = { waiting: 0, scheduled: 0, running: 0, failed: 0 }
    let lag = 0
    for (const q of data.queues) {
      for (const key of Object.keys(totals)) totals[key] += q[key]
      if (q.waiting > 0) lag = Math.max(lag, q.lag_ms)
      const row = document.querySelector(`tr[data-queue="${CSS.escape(q.queue)}"]`)
      if (!row) continue
      for (const key of Object.keys(totals)) {
        const cell = row.querySelector(`[data-count="${key}"]`)
        setText(cell && (cell.querySelector('a') || cell), number(q[key]))
      }
      setText(row.querySelector('[data-lag]'), q.waiting > 0 ? duration(q.lag_ms) : '—', false)
    }
    // a queue left out has no waiting, running or failed job any more
    const listed = new Set(data.queues.map((q) => q.queue))
    for (const row of document.querySelectorAll('tr[data-queue]')) {
      if (listed.has(row.dataset.queue)) continue
      for (const cell of row.querySelectorAll('[data-count]')) setText(cell.querySelector('a') || cell, '0')
      setText(row.querySelector('[data-lag]'), '—', false)
    }
    for (const key of Object.keys(totals))
      setText(document.querySelector(`[data-total="${key}"]`), number(totals[key]))
    setText(document.querySelector('[data-total-lag]'), lag > 0 ? duration(lag) : '—', false)
  }

  const onJob = (job) => {
    if (!job || job.id !== watchedJob) return
    const bar = document.querySelector('[data-progress]')
    const pct = progressPercent(job.progress)
    if (bar && pct !== null) {
      bar.value = pct
      setText(document.querySelector('[data-progress-value]'), `${pct} %`)
    }
    // a change of state changes the timeline, result and actions: reload the page
    if (renderedState && job.state !== renderedState) window.location.reload()
  }

  const progressPercent = (progress) => {
    const value =
      typeof progress === 'number'
        ? progress
        : progress && typeof progress === 'object'
          ? progress.value
          : null
    return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.min(100, value)) : null
  }

  const toasts = document.querySelector('[data-toasts]')
  const onFailure = (job) => {
    if (!toasts) return
    const toast = document.createElement('div')
    toast.className = 'toast'
    const link = document.createElement('a')
    link.href = `${body.dataset.base}/jobs/${encodeURIComponent(job.id)}`
    link.textContent = `Job #${job.id} (${job.task}) failed`
    const message = document.createElement('div')
    message.className = 'error-text'
    message.textContent = job.last_error || ''
    toast.append(link, message)
    toasts.prepend(toast)
    while (toasts.children.length > 4) toasts.lastElementChild.remove()
    setTimeout(() => toast.remove(), 15000)
  }

  const query = watchedJob ? `?job=${encodeURIComponent(watchedJob)}` : ''
  let pollTimer = null
  const poll = async () => {
    try {
      const response = await fetch(body.dataset.poll + query, { headers: { Accept: 'application/json' } })
      if (!response.ok) throw new Error(String(response.status))
      const data = await response.json()
      setMode('polling')
      onCounts(data)
      if (data.job) onJob(data.job)
    } catch {
      setMode('offline')
    }
    pollTimer = setTimeout(poll, 2000)
  }
  const startPolling = () => {
    if (pollTimer === null) poll()
  }

  if (typeof EventSource === 'function' && body.dataset.events) {
    const source = new EventSource(body.dataset.events + query)
    let failures = 0
    source.addEventListener('open', () => {
      failures = 0
      setMode('live')
    })
    source.addEventListener('counts', (e) => onCounts(JSON.parse(e.data)))
    source.addEventListener('job', (e) => onJob(JSON.parse(e.data)))
    source.addEventListener('failure', (e) => onFailure(JSON.parse(e.data)))
    source.addEventListener('error', () => {
      failures += 1
      if (source.readyState === EventSource.CLOSED || failures >= 3) {
        source.close()
        startPolling()
      }
    })
  } else {
    startPolling()
  }

  // ---- keyboard ----
  const rows = () => [...document.querySelectorAll('[data-nav-row]')]
  let selected = -1
  const select = (index) => {
    const list = rows()
    if (list.length === 0) return
    selected = Math.max(0, Math.min(list.length - 1, index))
    for (const row of list) row.removeAttribute('data-selected')
    list[selected].setAttribute('data-selected', '')
    list[selected].scrollIntoView({ block: 'nearest' })
  }
  const go = { o: '/', j: '/jobs', s: '/schedules', w: '/workers' }
  let pendingG = false
  document.addEventListener('keydown', (event) => {
    const target = event.target
    if (event.ctrlKey || event.metaKey || event.altKey) return
    if (target instanceof HTMLElement && target.closest('input, select, textarea, [contenteditable]')) {
      if (event.key === 'Escape') target.blur()
      return
    }
    if (pendingG) {
      pendingG = false
      const path = go[event.key]
      if (path !== undefined) {
        event.preventDefault()
        window.location.href = (body.dataset.base || '') + path
      }
      return
    }
    switch (event.key) {
      case 'g':
        pendingG = true
        setTimeout(() => {
          pendingG = false
        }, 1500)
        break
      case '/': {
        const search = document.querySelector('[data-search]')
        if (search) {
          event.preventDefault()
          search.focus()
        } else {
          window.location.href = `${body.dataset.base || ''}/jobs`
        }
        break
      }
      case 'j':
        select(selected + 1)
        break
      case 'k':
        select(selected - 1)
        break
      case 'Enter': {
        const link = rows()[selected]?.querySelector('a')
        if (link) link.click()
        break
      }
      default:
    }
  })
})()
