/**
 * Sends e-mail (DESIGN.md §6). The server is given with each message because its settings
 * live in the settings stream and may change while Stratus runs; the password arrives
 * opened from the key ring and is used for the SMTP login only — never logged.
 */
export interface SmtpServer {
  host: string;
  port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  /** Empty: no SMTP login. */
  username: string;
  password: string;
  /** The sender address, e.g. `Stratus <stratus@example.com>`. */
  from: string;
}

export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
}

export interface MailSender {
  /** Resolves once the server accepted the message; rejects with the server's refusal. */
  send(server: SmtpServer, message: MailMessage): Promise<{ messageId: string }>;
  close(): Promise<void>;
}
