import type { EventStore } from '../../adapters/eventstore/port.js';
import type { SmtpServer } from '../../adapters/mail/port.js';
import type { SecretBox } from '../../adapters/secrets/port.js';
import { settingValue } from '../../domain/settings/settings.js';
import { readSettings } from '../settings/settings.js';

// The SMTP server from the global settings (mail.smtp.*); its password is stored sealed by
// the settings API and opened here only to hand it to the mail sender.

/** The configured server, or undefined when e-mail is off (no host). */
export async function smtpServerOf(store: EventStore, secrets: SecretBox): Promise<SmtpServer | undefined> {
  const settings = await readSettings(store);
  const host = String(settingValue(settings, 'mail.smtp.host')).trim();
  if (!host) return undefined;
  const sealedPassword = String(settingValue(settings, 'mail.smtp.password'));
  return {
    host,
    port: Number(settingValue(settings, 'mail.smtp.port')),
    secure: settingValue(settings, 'mail.smtp.secure') === true,
    username: String(settingValue(settings, 'mail.smtp.username')),
    password: sealedPassword ? secrets.open(sealedPassword) : '',
    from: String(settingValue(settings, 'mail.smtp.from')),
  };
}
