// A small typed client of procoregraph, as a frontend would write it with
// urql and GraphQL Code Generator (codegen.yml beside this folder). It is
// compiled, not run, by TestTypeScriptClientCodegen: `tsc --strict` must
// accept it against the types generated from the live schema, so a scalar
// typed `unknown`, an enum value without a case, or a field whose shape
// changed fails the test.
import { Client, fetchExchange } from '@urql/core';

import { graphql } from '../gql';
import type { UserErrorCode } from '../gql/graphql';

export const DashboardQuery = graphql(`
  query Dashboard($first: Int!) {
    projects(first: $first) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        name
        rfis(first: 200) {
          nodes { id number subject status dueDate ballInCourtRole ballInCourt { id name } }
        }
        submittals(first: 200) { nodes { id number title status { id name status } } }
        commitments(first: 100) {
          nodes {
            id number title status kind grandTotal
            invoices(first: 100) { nodes { id status summary { totalRetainage currentPaymentDue } } }
          }
        }
      }
    }
  }
`);

export const UpdateCommitmentStatusMutation = graphql(`
  mutation UpdateCommitmentStatus($input: UpdateCommitmentStatusInput!) {
    updateCommitmentStatus(input: $input) {
      commitment { id status updatedAt }
      userErrors { field message code }
    }
  }
`);

export const SubmittalChangedSubscription = graphql(`
  subscription SubmittalChanged($projectId: ID, $after: String) {
    submittalChanged(projectId: $projectId, after: $after) {
      cursor kind projectId submittalId title at source
      previousStatus { id name status }
      status { id name status }
      ballInCourt { id name }
    }
  }
`);

/** What a form shows next to the field for each code: every code has a case. */
export function explain(code: UserErrorCode): string {
  switch (code) {
    case 'REQUIRED': return 'Required.';
    case 'INVALID_DECIMAL': return 'At most two decimal places.';
    case 'OUT_OF_RANGE': return 'Out of range.';
    case 'MUST_BE_POSITIVE': return 'Must be greater than zero.';
    case 'INCONSISTENT': return 'These values contradict each other.';
    case 'INVALID_VALUE': return 'Not allowed here.';
    case 'INVALID_TRANSITION': return 'Not allowed in the current state.';
    case 'NOT_FOUND': return 'Not found.';
    case 'DUPLICATE': return 'Already taken.';
    case 'CONFLICT': return 'This request was already made with other values.';
    case 'IN_PROGRESS': return 'Still running; try again shortly.';
    case 'OUTCOME_UNKNOWN': return 'Check Procore before retrying.';
    case 'CHECKSUM_MISMATCH': return 'The upload was corrupted.';
    case 'TOO_LARGE': return 'The file is too large.';
    case 'REJECTED': return 'Procore refused the change.';
    case 'INCOMPLETE': return 'Created, but not every step succeeded.';
    case 'UNAUTHENTICATED': return 'Sign in again.';
    case 'REAUTH_REQUIRED': return 'Confirm your identity again.';
    case 'BUSY': return 'The service is busy; try again shortly.';
    default: {
      const unhandled: never = code;
      throw new Error(`unhandled UserErrorCode ${String(unhandled)}`);
    }
  }
}

/** Sums money exactly in cents (Decimal is a string with at most two decimals on money). */
export function cents(d: string): bigint {
  const [whole = '0', frac = ''] = d.replace(/^-/, '').split('.');
  const v = BigInt(whole) * 100n + BigInt((frac + '00').slice(0, 2));
  return d.startsWith('-') ? -v : v;
}

export async function run(url: string): Promise<void> {
  const client = new Client({ url, exchanges: [fetchExchange] });

  const { data, error } = await client.query(DashboardQuery, { first: 50 }).toPromise();
  if (error || !data) throw error ?? new Error('no data');
  let grandTotal = 0n;
  for (const p of data.projects.nodes) {
    for (const r of p.rfis?.nodes ?? []) {
      const due: string | null | undefined = r.dueDate;
      const role: 'ASSIGNEES' | 'CREATOR' | 'RFI_MANAGER' | 'UNKNOWN' | null | undefined = r.ballInCourtRole;
      console.log(r.number, r.status, due, role);
    }
    for (const s of p.submittals?.nodes ?? []) {
      const statusName: string | undefined = s.status?.name;
      console.log(s.number, statusName);
    }
    for (const c of p.commitments?.nodes ?? []) {
      grandTotal += cents(c.grandTotal);
      for (const i of c.invoices?.nodes ?? []) {
        const retainage: string | undefined = i.summary?.totalRetainage;
        console.log(i.id, i.status, retainage);
      }
    }
  }
  console.log('grand total (cents)', grandTotal);

  const m = await client.mutation(UpdateCommitmentStatusMutation, {
    input: { projectId: data.projects.nodes[0]?.id ?? '', commitmentId: '1', status: 'APPROVED' },
  }).toPromise();
  for (const e of m.data?.updateCommitmentStatus.userErrors ?? []) {
    console.log(e.field.join('.'), explain(e.code), e.message);
  }
  const updatedAt: string | undefined = m.data?.updateCommitmentStatus.commitment?.updatedAt;
  console.log(updatedAt);

  client.subscription(SubmittalChangedSubscription, { projectId: null }).subscribe((r) => {
    const ev = r.data?.submittalChanged;
    if (!ev) return;
    const at: string = ev.at;
    const from: string | undefined = ev.previousStatus?.name;
    const to: string | undefined = ev.status?.name;
    console.log(ev.cursor, ev.kind, ev.source, at, from, to);
  });
}
