import nodemailer, { type Transporter } from 'nodemailer';
import type { MailMessage, MailSender, SmtpServer } from './port.js';

// The SMTP mail sender (nodemailer). One pooled transport per server configuration: a changed
// setting (host, password …) gets a new transport and the old one is closed.

export function createSmtpSender(options: { timeoutMs?: number } = {}): MailSender {
  let current: { key: string; transport: Transporter } | undefined;

  function transportFor(server: SmtpServer): Transporter {
    const key = JSON.stringify([server.host, server.port, server.secure, server.username, server.password]);
    if (current?.key === key) return current.transport;
    current?.transport.close();
    const timeout = options.timeoutMs ?? 30_000;
    const transport = nodemailer.createTransport({
      host: server.host,
      port: server.port,
      secure: server.secure,
      ...(server.username ? { auth: { user: server.username, pass: server.password } } : {}),
      pool: true,
      maxConnections: 2,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      // Certificates are verified (the password goes over this connection): STARTTLS is used whenever the server offers it.
    });
    current = { key, transport };
    return transport;
  }

  return {
    async send(server: SmtpServer, message: MailMessage) {
      const info = await transportFor(server).sendMail({ from: server.from, to: message.to, subject: message.subject, text: message.text });
      return { messageId: String(info.messageId) };
    },
    async close() {
      current?.transport.close();
      current = undefined;
    },
  };
}
