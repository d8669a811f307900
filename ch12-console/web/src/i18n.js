// i18n.js — the two message tables (English and 中文) and t(key, ...args).
//
// Every string the pages show comes from here: t('topics.create') looks the key up in the
// current language's table; {0}, {1}... are replaced by the arguments. `lang` is a Vue ref, so
// switching it re-renders every page. The choice is kept in localStorage. A key missing from
// a table shows as the key itself (the browser tests check both tables have the same keys).
import { ref } from 'vue'

export const messages = {
  en: {
    console: 'console', readOnly: 'read-only', logout: 'Log out', login: 'Log in',
    username: 'User', password: 'Password', refresh: 'Refresh', search: 'Search', filter: 'Filter',
    ok: 'OK', cancel: 'Cancel', delete: 'Delete', deleted: 'Deleted {0}', yes: 'yes', no: 'no', down: 'DOWN',
    'page.dashboard': 'Dashboard', 'page.cluster': 'Cluster', 'page.topics': 'Topics',
    'page.groups': 'Consumer groups', 'page.messages': 'Messages', 'page.dlq': 'Dead letters (DLQ)',
    'page.pending': 'Delayed & transactions', 'page.connections': 'Connections',
    'col.actions': 'Actions', 'col.addr': 'Address', 'col.body': 'Body', 'col.boot': 'Started',
    'col.brokerId': 'Broker id', 'col.brokerName': 'Broker', 'col.brokerOffset': 'Broker offset',
    'col.clientAddr': 'Client address', 'col.clientId': 'Client id', 'col.cluster': 'Cluster',
    'col.consumeEnable': 'Consuming', 'col.consumerOffset': 'Consumer offset', 'col.diff': 'Lag',
    'col.disk': 'Commit log on disk', 'col.dispatchBehind': 'Dispatch behind', 'col.epoch': 'Epoch',
    'col.group': 'Group', 'col.key': 'Key', 'col.keys': 'Keys', 'col.language': 'Language',
    'col.lastTimestamp': 'Last message stored', 'col.lastUpdate': 'Last update', 'col.maxOffset': 'Max offset',
    'col.minOffset': 'Min offset', 'col.producerGroup': 'Producer group', 'col.putTps': 'Put TPS',
    'col.queueId': 'Queue', 'col.queueOffset': 'Queue offset', 'col.reconsumeTimes': 'Reconsume times',
    'col.replLag': 'Replication lag', 'col.retryMax': 'Max retries', 'col.role': 'Role',
    'col.storeTime': 'Stored at', 'col.subString': 'Subscription', 'col.tags': 'Tags', 'col.topic': 'Topic',
    'col.value': 'Value', 'col.version': 'Version',
    'dash.tps': 'Messages per second (all brokers, live)', 'dash.brokers': 'Brokers',
    'dash.brokersUp': 'Brokers up', 'dash.masters': 'Masters', 'dash.produceTps': 'Produce TPS',
    'dash.consumeTps': 'Consume TPS', 'dash.today': 'Messages today', 'dash.lag': 'Total lag',
    'cluster.runtime': 'Runtime of',
    'topics.system': 'system topics too', 'topics.create': 'Create topic', 'topics.status': 'Status',
    'topics.route': 'Route', 'topics.consumers': 'Consumers', 'topics.readQueues': 'Read queues',
    'topics.writeQueues': 'Write queues', 'topics.perm': 'Permission', 'topics.messages': 'Messages kept',
    'topics.created': 'Topic {0} created on {1}', 'topics.deleteConfirm': 'Delete topic {0} on every broker and name server?',
    'groups.system': 'system groups too', 'groups.lag': 'Lag', 'groups.connections': 'Connections',
    'groups.diffTotal': 'Total lag', 'groups.consumeTps': 'Consume TPS', 'groups.reset': 'Reset offset',
    'groups.resetTime': 'To time', 'groups.resetHelp': 'The group will consume again from the first message stored at or after this time (empty: skip to the end).',
    'groups.resetDone': '{0} queues reset ({1})',
    'conn.consumer': 'Consumer group', 'conn.producer': 'Producer group', 'conn.subscriptions': 'Subscriptions',
    'msg.byTime': 'By topic and time', 'msg.byKey': 'By key', 'msg.byId': 'By message id', 'msg.key': 'Key',
    'msg.id': 'Message id', 'msg.begin': 'From', 'msg.end': 'To', 'msg.detail': 'Message',
    'msg.properties': 'Properties', 'msg.truncated': 'cut', 'msg.trace': 'Retry trace', 'msg.stage': 'Stage',
    'msg.needTopic': 'Give a topic first',
    'dlq.resend': 'Resend', 'dlq.resendAll': 'Resend all', 'dlq.resent': '{0} message(s) sent again',
    'dlq.first': 'First page', 'dlq.next': 'Next page', 'dlq.originTopic': 'Original topic', 'dlq.originMsgId': 'Original message id',
    'pending.delayed': 'Delayed messages', 'pending.txn': 'Transactional half messages', 'pending.total': 'Pending',
    'pending.level': 'Level', 'pending.delay': 'Delay', 'pending.delivered': 'Delivered offset',
    'pending.pending': 'Pending', 'pending.checkTimes': 'Checks', 'pending.oldest': 'Oldest stored at',
  },
  zh: {
    console: '控制台', readOnly: '只读', logout: '退出登录', login: '登录',
    username: '用户名', password: '密码', refresh: '刷新', search: '查询', filter: '过滤',
    ok: '确定', cancel: '取消', delete: '删除', deleted: '已删除 {0}', yes: '是', no: '否', down: '离线',
    'page.dashboard': '驾驶舱', 'page.cluster': '集群', 'page.topics': '主题',
    'page.groups': '消费者组', 'page.messages': '消息查询', 'page.dlq': '死信队列',
    'page.pending': '延时与事务消息', 'page.connections': '客户端连接',
    'col.actions': '操作', 'col.addr': '地址', 'col.body': '消息体', 'col.boot': '启动时间',
    'col.brokerId': 'Broker ID', 'col.brokerName': 'Broker', 'col.brokerOffset': 'Broker 位点',
    'col.clientAddr': '客户端地址', 'col.clientId': '客户端 ID', 'col.cluster': '集群',
    'col.consumeEnable': '可消费', 'col.consumerOffset': '消费位点', 'col.diff': '堆积',
    'col.disk': 'CommitLog 磁盘占用', 'col.dispatchBehind': '分发落后', 'col.epoch': '任期',
    'col.group': '组', 'col.key': '键', 'col.keys': 'Keys', 'col.language': '语言',
    'col.lastTimestamp': '最后存储时间', 'col.lastUpdate': '最后更新', 'col.maxOffset': '最大位点',
    'col.minOffset': '最小位点', 'col.producerGroup': '生产者组', 'col.putTps': '写入 TPS',
    'col.queueId': '队列', 'col.queueOffset': '队列位点', 'col.reconsumeTimes': '重试次数',
    'col.replLag': '复制延迟', 'col.retryMax': '最大重试次数', 'col.role': '角色',
    'col.storeTime': '存储时间', 'col.subString': '订阅表达式', 'col.tags': 'Tags', 'col.topic': '主题',
    'col.value': '值', 'col.version': '版本',
    'dash.tps': '每秒消息数（全部 Broker，实时）', 'dash.brokers': 'Broker 列表',
    'dash.brokersUp': '在线 Broker', 'dash.masters': '主节点', 'dash.produceTps': '生产 TPS',
    'dash.consumeTps': '消费 TPS', 'dash.today': '今日消息数', 'dash.lag': '总堆积',
    'cluster.runtime': '运行状态：',
    'topics.system': '包含系统主题', 'topics.create': '新建主题', 'topics.status': '状态',
    'topics.route': '路由', 'topics.consumers': '消费者', 'topics.readQueues': '读队列数',
    'topics.writeQueues': '写队列数', 'topics.perm': '权限', 'topics.messages': '保存的消息数',
    'topics.created': '主题 {0} 已在 {1} 上创建', 'topics.deleteConfirm': '在所有 Broker 和 NameServer 上删除主题 {0}？',
    'groups.system': '包含系统组', 'groups.lag': '堆积', 'groups.connections': '连接',
    'groups.diffTotal': '总堆积', 'groups.consumeTps': '消费 TPS', 'groups.reset': '重置位点',
    'groups.resetTime': '重置到', 'groups.resetHelp': '该组将从此时间及之后存储的第一条消息重新消费（留空：跳到末尾）。',
    'groups.resetDone': '已重置 {0} 个队列（{1}）',
    'conn.consumer': '消费者组', 'conn.producer': '生产者组', 'conn.subscriptions': '订阅关系',
    'msg.byTime': '按主题和时间', 'msg.byKey': '按 Key', 'msg.byId': '按消息 ID', 'msg.key': 'Key',
    'msg.id': '消息 ID', 'msg.begin': '开始', 'msg.end': '结束', 'msg.detail': '消息详情',
    'msg.properties': '属性', 'msg.truncated': '已截断', 'msg.trace': '重试轨迹', 'msg.stage': '阶段',
    'msg.needTopic': '请先填写主题',
    'dlq.resend': '重新投递', 'dlq.resendAll': '全部重新投递', 'dlq.resent': '已重新投递 {0} 条消息',
    'dlq.first': '第一页', 'dlq.next': '下一页', 'dlq.originTopic': '原主题', 'dlq.originMsgId': '原消息 ID',
    'pending.delayed': '延时消息', 'pending.txn': '事务半消息', 'pending.total': '待投递',
    'pending.level': '级别', 'pending.delay': '延时', 'pending.delivered': '已投递位点',
    'pending.pending': '待处理', 'pending.checkTimes': '回查次数', 'pending.oldest': '最早存储时间',
  },
}

function initialLang() {
  try {
    const saved = localStorage.getItem('rk-lang')
    if (saved === 'en' || saved === 'zh') return saved
  } catch { /* no storage: fall through */ }
  const nav = typeof navigator === 'undefined' ? '' : navigator.language || ''
  return nav.startsWith('zh') ? 'zh' : 'en'
}

export const lang = ref(initialLang())

export function setLang(l) {
  lang.value = l
  try { localStorage.setItem('rk-lang', l) } catch { /* ignore */ }
}

export function t(key, ...args) {
  const s = messages[lang.value][key] ?? messages.en[key] ?? key
  return s.replace(/\{(\d+)\}/g, (_, i) => String(args[Number(i)]))
}
