/**
 * The EC2 stand-in's security groups (test/helpers/standin-ec2.ts), from the "Amazon EC2 API
 * Reference" (2016-11-15): CreateSecurityGroup, DescribeSecurityGroups,
 * AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress, DeleteSecurityGroup (and the groups
 * of an instance: RunInstances SecurityGroupId.N, ModifyInstanceAttribute GroupId.N, the
 * instance's groupSet), with their awkward parts:
 * - CreateSecurityGroup: GroupName and GroupDescription required; a name unique per VPC
 *   (InvalidGroup.Duplicate); a name may not start with `sg-` (InvalidParameterValue); no VpcId
 *   means the default VPC. TagSpecification ResourceType security-group tags it in the create.
 *   Every VPC has a group named `default` that cannot be deleted (CannotDelete).
 * - Eventual consistency ("Eventual consistency in the Amazon EC2 API"): the first
 *   `groupHiddenCalls` calls naming a new group's id answer InvalidGroup.NotFound, and
 *   DescribeSecurityGroups by filter omits it meanwhile.
 * - AuthorizeSecurityGroupIngress is all-or-nothing: one permission that already exists fails
 *   the whole call with InvalidPermission.Duplicate and adds none.
 * - RevokeSecurityGroupIngress of a rule the group does not hold is no error: the answer lists it
 *   in unknownIpPermissionSet ("If the values you specify do not match the existing rule's
 *   values, no error is returned, and the output describes the security group rules that were
 *   not revoked").
 * - DeleteSecurityGroup of a group an instance still uses (any state but terminated, so also
 *   shutting-down) fails with DependencyViolation; of an unknown one, InvalidGroup.NotFound.
 * - DescribeSecurityGroups: GroupId.N (an unknown id fails the call), GroupName.N, Filter.N
 *   (group-name, group-id, vpc-id, tag:<key>, tag-key), MaxResults/NextToken.
 * Rules are kept as `<protocol> <from>-<to> <cidr>` strings.
 */
import type { Ec2Kit } from './standin-ec2-images.js';

export interface StandinGroup {
  name: string;
  description: string;
  vpcId: string;
  tags: Map<string, string>;
  /** Ingress rules: `tcp 80-80 10.0.0.0/8`. */
  rules: string[];
  hiddenCalls: number;
}

export const DEFAULT_VPC = 'vpc-0standin00000001';
export const DEFAULT_GROUP = 'sg-0default000000001';

export interface GroupOptions {
  groupHiddenCalls?: number;
  pageSize?: number;
}

/** What the groups need of the instances: the groups each live (not terminated) instance uses. */
export interface GroupUsers {
  usersOf(groupId: string): string[];
}

export function createStandinGroups(kit: Ec2Kit, users: GroupUsers, opts: GroupOptions) {
  const { el, items, list, structs } = kit;
  const groups = new Map<string, StandinGroup>();
  groups.set(DEFAULT_GROUP, { name: 'default', description: 'default VPC security group', vpcId: DEFAULT_VPC, tags: new Map(), rules: [], hiddenCalls: Number.MAX_SAFE_INTEGER });
  const hiddenLimit = opts.groupHiddenCalls ?? 0;

  /** The group a call names; NotFound while eventual consistency hides it (spends one hidden call). */
  const need = (id: string): StandinGroup => {
    const g = groups.get(id);
    if (!g || g.hiddenCalls < hiddenLimit) {
      if (g) g.hiddenCalls++;
      throw kit.error('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
    }
    return g;
  };

  /** `IpPermissions.N` → rule strings, one per range. */
  const permissions = (p: Map<string, string>): string[] => {
    const out: string[] = [];
    for (const s of structs(p, 'IpPermissions')) {
      const proto = p.get(`${s}.IpProtocol`);
      if (!proto) throw kit.error('MissingParameter', `${s}.IpProtocol is required`);
      const span = proto === '-1' ? '0-65535' : `${p.get(`${s}.FromPort`)}-${p.get(`${s}.ToPort`)}`;
      const cidrs = [...structs(p, `${s}.IpRanges`).map((r) => p.get(`${r}.CidrIp`) ?? ''), ...structs(p, `${s}.Ipv6Ranges`).map((r) => p.get(`${r}.CidrIpv6`) ?? '')];
      if (cidrs.length === 0) throw kit.error('InvalidParameterValue', 'stand-in: only IpRanges and Ipv6Ranges sources');
      for (const c of cidrs) out.push(`${proto} ${span} ${c}`);
    }
    return out;
  };

  const permissionXml = (rule: string): string => {
    const [proto, span, cidr] = rule.split(' ') as [string, string, string];
    const [from, to] = span.split('-');
    const range = cidr.includes(':') ? items('ipv6Ranges', [el('cidrIpv6', cidr)]) + items('ipRanges', []) : items('ipRanges', [el('cidrIp', cidr)]) + items('ipv6Ranges', []);
    return el('ipProtocol', proto) + el('fromPort', from) + el('toPort', to) + items('groups', []) + range;
  };
  const tagSet = (t: Map<string, string>): string => items('tagSet', [...t].map(([k, v]) => el('key', k) + el('value', v)));
  const groupXml = (id: string, g: StandinGroup): string =>
    el('ownerId', '111122223333') + el('groupId', id) + el('groupName', g.name) + el('groupDescription', g.description) + el('vpcId', g.vpcId) +
    items('ipPermissions', g.rules.map(permissionXml)) + items('ipPermissionsEgress', [permissionXml('-1 0-65535 0.0.0.0/0')]) + tagSet(g.tags);

  const actions: Record<string, (p: Map<string, string>) => string> = {
    CreateSecurityGroup(p) {
      const name = p.get('GroupName');
      const description = p.get('GroupDescription');
      if (!name) throw kit.error('MissingParameter', 'The request must contain the parameter GroupName');
      if (!description) throw kit.error('MissingParameter', 'The request must contain the parameter GroupDescription');
      if (name.startsWith('sg-')) throw kit.error('InvalidParameterValue', 'Group names may not be in the format sg-*');
      const vpcId = p.get('VpcId') ?? DEFAULT_VPC;
      if ([...groups.values()].some((g) => g.name === name && g.vpcId === vpcId)) throw kit.error('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${vpcId}'`);
      const tags = new Map<string, string>();
      for (const s of structs(p, 'TagSpecification')) {
        if (p.get(`${s}.ResourceType`) !== 'security-group') throw kit.error('InvalidParameterValue', `stand-in: unsupported ResourceType ${p.get(`${s}.ResourceType`)}`);
        for (const t of structs(p, `${s}.Tag`)) tags.set(p.get(`${t}.Key`) ?? '', p.get(`${t}.Value`) ?? '');
      }
      const id = `sg-${kit.hex(17)}`;
      groups.set(id, { name, description, vpcId, tags, rules: [], hiddenCalls: 0 });
      return el('return', true) + el('groupId', id) + tagSet(tags);
    },
    DescribeSecurityGroups(p) {
      const ids = list(p, 'GroupId');
      const names = list(p, 'GroupName');
      let all: [string, StandinGroup][] = ids.length ? ids.map((id) => [id, need(id)]) : [...groups].filter(([, g]) => g.hiddenCalls >= hiddenLimit);
      if (names.length) {
        for (const n of names) if (!all.some(([, g]) => g.name === n)) throw kit.error('InvalidGroup.NotFound', `The security group '${n}' does not exist in default VPC '${DEFAULT_VPC}'`);
        all = all.filter(([, g]) => names.includes(g.name));
      }
      for (const f of structs(p, 'Filter')) {
        const name = p.get(`${f}.Name`) ?? '';
        const values = list(p, `${f}.Value`);
        if (name === 'group-name') all = all.filter(([, g]) => values.some((v) => kit.glob(v, g.name)));
        else if (name === 'group-id') all = all.filter(([id]) => values.includes(id));
        else if (name === 'vpc-id') all = all.filter(([, g]) => values.includes(g.vpcId));
        else if (name.startsWith('tag:')) all = all.filter(([, g]) => values.includes(g.tags.get(name.slice(4)) ?? '\u0000'));
        else if (name === 'tag-key') all = all.filter(([, g]) => values.some((v) => g.tags.has(v)));
        else throw kit.error('InvalidParameterValue', `The filter '${name}' is invalid`);
      }
      const pg = kit.page(all, p, opts.pageSize);
      return items('securityGroupInfo', pg.items.map(([id, g]) => groupXml(id, g))) + (pg.next ? el('nextToken', pg.next) : '');
    },
    AuthorizeSecurityGroupIngress(p) {
      const g = need(p.get('GroupId') ?? '');
      const add = permissions(p);
      const dup = add.find((r, n) => g.rules.includes(r) || add.indexOf(r) !== n);
      if (dup) {
        const [proto, span, cidr] = dup.split(' ') as [string, string, string];
        throw kit.error('InvalidPermission.Duplicate', `the specified rule "peer: ${cidr}, ${proto.toUpperCase()}, from port: ${span.split('-')[0]}, ALLOW" already exists`);
      }
      g.rules.push(...add);
      return el('return', true);
    },
    RevokeSecurityGroupIngress(p) {
      const g = need(p.get('GroupId') ?? '');
      const unknown: string[] = [];
      for (const r of permissions(p)) {
        const at = g.rules.indexOf(r);
        if (at < 0) unknown.push(r);
        else g.rules.splice(at, 1);
      }
      return el('return', true) + items('unknownIpPermissionSet', unknown.map(permissionXml));
    },
    DeleteSecurityGroup(p) {
      const id = p.get('GroupId') ?? '';
      const g = need(id);
      if (g.name === 'default') throw kit.error('CannotDelete', `the specified group: "${id}" name: "default" cannot be deleted by a user`);
      if (users.usersOf(id).length) throw kit.error('DependencyViolation', `resource ${id} has a dependent object`);
      groups.delete(id);
      return el('return', true);
    },
  };
  return { groups, actions, need };
}
