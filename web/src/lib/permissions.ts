// What a role may do in a workspace, mirrored from server/src/auth/roles.rs so the console can
// hide controls the server would certainly refuse. The server still decides; its 403s are shown.

import type { Role } from '../api';

export type Permission =
  | 'ViewCampaigns'
  | 'ManageCampaigns'
  | 'ViewCompliance'
  | 'ManageCompliance'
  | 'LiftSuppression'
  | 'ViewCarrier';

export function can(role: Role, permission: Permission): boolean {
  switch (permission) {
    case 'ViewCampaigns':
    case 'ViewCarrier':
      return true;
    case 'ViewCompliance':
      return role !== 'viewer';
    case 'ManageCampaigns':
    case 'ManageCompliance':
      return role === 'owner' || role === 'admin' || role === 'manager';
    case 'LiftSuppression':
      return role === 'owner' || role === 'admin';
  }
}
