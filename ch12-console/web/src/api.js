// api.js — every call the pages make to mqconsole's JSON API goes through here.
//
// A thin wrapper around fetch: JSON in, JSON out; an answer that is not 2xx becomes an Error
// whose message is the server's {"error": "..."} text (shown by the page). A 401 also tells
// the App (through onLoginNeeded) to show the login page.
let loginNeeded = () => {}
export function onLoginNeeded(fn) { loginNeeded = fn }

async function call(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' }
  if (body !== undefined) {
    // The console accepts only application/json bodies (an HTML form on another site cannot
    // send one), so a forged cross-site request never reaches a route.
    opts.headers['Content-Type'] = 'application/json'
    opts.body = JSON.stringify(body)
  }
  const resp = await fetch('api' + path, opts)
  let data = null
  try { data = await resp.json() } catch { data = null }
  if (!resp.ok) {
    if (resp.status === 401) loginNeeded()
    const err = new Error((data && data.error) || `HTTP ${resp.status}`)
    err.status = resp.status
    throw err
  }
  return data
}

// Builds "?a=1&b=x" from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params || {}))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? '?' + s : ''
}

// Names in paths are percent-encoded: %RETRY%G becomes %25RETRY%25G.
export const enc = encodeURIComponent

export const api = {
  get: (path, params) => call('GET', path + query(params)),
  post: (path, body) => call('POST', path, body === undefined ? {} : body),
  del: (path) => call('DELETE', path),
}
