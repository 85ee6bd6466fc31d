import type { Route } from './context';
import { ACTION_ROUTES } from './pages/actions';
import { CHANNEL_ROUTES } from './pages/channels';
import { DASHBOARD_ROUTES } from './pages/dashboard';
import { SERVER_ROUTES } from './pages/servers';
import { TABLE_ROUTES } from './pages/tables';
import { USER_ROUTES } from './pages/users';

export const ROUTES: Route[] = [
  ...DASHBOARD_ROUTES,
  ...TABLE_ROUTES,
  ...SERVER_ROUTES,
  ...CHANNEL_ROUTES,
  ...USER_ROUTES,
  ...ACTION_ROUTES,
];
