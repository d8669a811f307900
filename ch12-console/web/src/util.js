// Small helpers shared by the pages: formatting and showing an error.
import { ElMessage } from 'element-plus'

export function showError(e) {
  ElMessage.error({ message: e && e.message ? e.message : String(e), grouping: true })
}

export function fmtTime(ms) {
  if (!ms || ms <= 0) return '-'
  const d = new Date(ms)
  const p = (n, w = 2) => String(n).padStart(w, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`
}

export function fmtBytes(n) {
  if (n === undefined || n === null || n < 0) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i]
}

export function fmtNum(n, digits = 1) {
  if (n === undefined || n === null) return '-'
  return Number.isInteger(n) ? String(n) : n.toFixed(digits)
}
