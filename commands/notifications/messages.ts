import type { MailMessage } from '../../adapters/mail/port.js';
import { reclaimActionText } from '../../domain/tenancy/reclaim.js';
import type { ReclaimAction } from '../../domain/tenancy/project.js';

// The texts of notification e-mails (plain text; addresses are added by the sender).

export type Notice = Omit<MailMessage, 'to'>;

const ticketTypeText: Record<string, string> = {
  ApplyVm: 'apply for VM instances',
  DeleteVm: 'delete VM instances',
  ModifyVmConfiguration: 'modify VM configuration',
  ModifyProjectCycle: 'modify project cycle',
  ModifyProjectQuota: 'modify project quota',
};

export interface TicketFacts {
  ticketId: string;
  type: string;
  projectName: string;
  applicantName: string;
}

const describe = (ticket: TicketFacts) => `Ticket ${ticket.ticketId} (${ticketTypeText[ticket.type] ?? ticket.type}) in project ${ticket.projectName}, filed by ${ticket.applicantName}`;

export function awaitingApproval(ticket: TicketFacts, stepName: string): Notice {
  return {
    subject: `[Stratus] Ticket to approve: ${ticketTypeText[ticket.type] ?? ticket.type} in project ${ticket.projectName}`,
    text: `${describe(ticket)}, is waiting for your approval (step "${stepName}").\n\nApprove or reject it under My Approvals (/v1/approvals?view=pending).\n`,
  };
}

export function ticketApproved(ticket: TicketFacts, approverName: string, remarks: string): Notice {
  return {
    subject: `[Stratus] Ticket approved: ${ticketTypeText[ticket.type] ?? ticket.type} in project ${ticket.projectName}`,
    text: `${describe(ticket)}, was approved by ${approverName}.${remarks ? `\nRemarks: ${remarks}` : ''}\n\nThe request now runs; the ticket shows its outcome.\n`,
  };
}

export function ticketRejected(ticket: TicketFacts, approverName: string, remarks: string): Notice {
  return {
    subject: `[Stratus] Ticket rejected: ${ticketTypeText[ticket.type] ?? ticket.type} in project ${ticket.projectName}`,
    text: `${describe(ticket)}, was rejected by ${approverName}.\nRemarks: ${remarks}\n\nYou can change the request and reopen the ticket.\n`,
  };
}

export function projectExpiring(projectName: string, deadline: number, action: ReclaimAction): Notice {
  const at = new Date(deadline).toISOString();
  return {
    subject: `[Stratus] Project ${projectName} expires on ${at.slice(0, 10)}`,
    text: `Project ${projectName} expires at ${at}: then ${reclaimActionText[action]}.\n\nAsk its administrator to extend it (a "modify project cycle" ticket) if you still need it.\n`,
  };
}
