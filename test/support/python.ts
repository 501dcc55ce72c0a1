import { run, type RunResult } from './cli.js';

/**
 * Run a python3 snippet (`python3 -c CODE`). Values reach the snippet through environment
 * variables (read them with os.environ), never by pasting them into the code.
 */
export function python(code: string, env: Record<string, string | number> = {}, timeoutMs = 20_000): Promise<RunResult> {
  const vars = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  return run('python3', ['-c', code], { env: { PYTHONUNBUFFERED: '1', ...vars }, timeoutMs });
}

/** Run a snippet that prints one JSON document on its last stdout line; parse it. */
export async function pythonJson<T = unknown>(code: string, env: Record<string, string | number> = {}): Promise<T> {
  const result = await python(code, env);
  if (result.code !== 0) throw new Error(`python3 exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? 'null') as T;
}

/**
 * python3 smtplib client. Environment: PORT, MODE (starttls | ssl | plain), optional AUTH_USER /
 * AUTH_PASS, FROM, TO (comma-separated), MSG_FILE (the exact message bytes). Prints one JSON
 * line: the reply of each step ({ step, code, text }) and, on an smtplib exception, `error`.
 */
export const SMTPLIB_SEND = String.raw`
import json, os, smtplib, ssl, sys
env = os.environ
steps = []
out = {"steps": steps}
def record(step, reply):
    code, text = reply
    steps.append({"step": step, "code": code, "text": text.decode("latin-1") if isinstance(text, bytes) else str(text)})
    return code
try:
    ctx = ssl._create_unverified_context()
    port = int(env["PORT"])
    if env.get("MODE") == "ssl":
        s = smtplib.SMTP_SSL("127.0.0.1", port, local_hostname="python.client.test", timeout=10, context=ctx)
    else:
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="python.client.test", timeout=10)
    record("ehlo", s.ehlo())
    if env.get("MODE", "starttls") == "starttls":
        record("starttls", s.starttls(context=ctx))
        record("ehlo", s.ehlo())
    if env.get("AUTH_USER"):
        try:
            record("auth", s.login(env["AUTH_USER"], env["AUTH_PASS"]))
        except smtplib.SMTPAuthenticationError as e:
            record("auth", (e.smtp_code, e.smtp_error))
            raise
    if record("mail", s.mail(env["FROM"])) == 250:
        ok = 0
        for rcpt in env["TO"].split(","):
            if record("rcpt", s.rcpt(rcpt)) == 250:
                ok += 1
        if ok:
            with open(env["MSG_FILE"], "rb") as f:
                msg = f.read()
            record("data", s.data(msg))
    s.quit()
except Exception as e:
    out["error"] = type(e).__name__
    out["detail"] = str(e)
print(json.dumps(out))
`;

export interface SmtplibStep {
  step: string;
  code: number;
  text: string;
}

export interface SmtplibResult {
  steps: SmtplibStep[];
  error?: string;
  detail?: string;
}

/** Run SMTPLIB_SEND; `steps` holds each reply. */
export function smtplibSend(env: { PORT: number; MODE?: 'starttls' | 'ssl' | 'plain'; AUTH_USER?: string; AUTH_PASS?: string; FROM: string; TO: string[]; MSG_FILE: string }): Promise<SmtplibResult> {
  const { TO, ...rest } = env;
  const vars: Record<string, string | number> = { MODE: 'starttls', ...rest, TO: TO.join(',') } as Record<string, string | number>;
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete vars[k];
  return pythonJson<SmtplibResult>(SMTPLIB_SEND, vars);
}

/** The reply of the last step named `step`. */
export function stepOf(result: SmtplibResult, step: string): SmtplibStep | undefined {
  return result.steps.filter((s) => s.step === step).pop();
}
