// Operator roles and their order. Pure: no I/O.

export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** True when `held` is at least `needed` in the order viewer < operator < approver < admin. */
export function roleAllows(held: Role, needed: Role): boolean {
  return ROLES.indexOf(held) >= ROLES.indexOf(needed);
}

/** Every role a holder of `role` effectively has, lowest first. */
export function impliedRoles(role: Role): Role[] {
  return ROLES.slice(0, ROLES.indexOf(role) + 1);
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Who is calling: the operator a request acts for. */
export interface Caller {
  operatorId: string;
  name: string;
  role: Role;
}
