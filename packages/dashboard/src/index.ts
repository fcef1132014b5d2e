// The public API of @pgq/dashboard: the handler and its options.
export type { DashboardConfig, DashboardOptions } from './config.js'
export { createDashboard, Dashboard } from './dashboard.js'
