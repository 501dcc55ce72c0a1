#!/usr/bin/env node
// SMTP throughput benchmark: Postfix's smtp-source against smtp-sink (the generator's ceiling),
// Postern with no plugins, Postern with the access and rate-limit plugins, and (profile
// "postern+protection") Postern with every protection plugin against real local services
// (dnsmasq, clamd, spamd; test/bench/protection-profile.ts), in one run. The protection profile
// also prints where the time goes per plugin: the server's per-tap timings (admin API).
//
//   npm run bench:smtp                      # builds, then runs this file
//   BENCH_QUICK=1 npm run bench:smtp        # smoke run: 200 messages, 10 KB only
//
// Environment:
//   BENCH_MESSAGES   messages per scenario (default 6000: smtp-sink takes well under a second for fewer, too short a ceiling to measure; 200 with BENCH_QUICK=1)
//   BENCH_SIZES      message sizes in KB, comma separated (default "1,10,100"; "10" with BENCH_QUICK=1)
//   BENCH_SESSIONS   parallel smtp-source sessions (default 20)
//   BENCH_WARMUP     untimed messages sent to each Postern first, so the JIT has compiled the
//                    hot path (default 500; 100 with BENCH_QUICK=1; 0 disables)
//   BENCH_QUICK=1    fast smoke run
//   BENCH_SERVERS    which servers to run, comma separated (default "smtp-sink,postern,postern+plugins,
//                    postern+protection")
//   BENCH_PROTECTION_MESSAGES  messages per postern+protection scenario (default 300; 100 with
//                    BENCH_QUICK=1): spamd takes 70-300 ms a message, so this profile is slower
//   BENCH_PROTECTION_WITHOUT  protection plugins to leave out, comma separated (e.g. "spamassassin")
//   BENCH_SINK_RUNS  runs of each smtp-sink scenario; the median is the ceiling (default 3: its runs
//                    last well under a second, so a single one is noisy)
//   BENCH_IDLE       idle connections for the memory test (default 500; 0 skips it)
//   BENCH_TIMEOUT    seconds one smtp-source run may take before it is killed (default 300)
//   BENCH_STRICT=1   exit 1 when a 10 KB target is missed (errors and lost messages always exit 1)
//   BENCH_JSON=FILE  also write the results as JSON to FILE
//   BENCH_KEEP=1     keep the temporary folders (config, data, server logs) for inspection
//
// Each Postern scenario runs against a fresh server process (so VmHWM is that scenario's peak) that
// shares one data folder per plugin set; every message goes to user@bench.test, a real mailbox made
// with the CLI, and the Maildir new/ folder is counted after the run. Only 127.0.0.1 is used.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statfsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync, openSync, closeSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'core', 'dist', 'cli', 'main.js');
const SBIN = '/usr/sbin';
const HOST = '127.0.0.1';
const DOMAIN = 'bench.test';
const USER = `user@${DOMAIN}`;
const SENDER = `a@${DOMAIN}`;

// ---------------------------------------------------------------------------------------- options

const quick = process.env.BENCH_QUICK === '1';
const MESSAGES = intEnv('BENCH_MESSAGES', quick ? 200 : 6000);
const SESSIONS = intEnv('BENCH_SESSIONS', 20);
const WARMUP = intEnv('BENCH_WARMUP', quick ? 100 : 500);
const IDLE = intEnv('BENCH_IDLE', 500);
const TIMEOUT_SEC = Math.max(1, intEnv('BENCH_TIMEOUT', 300));
// A runaway server must not fill the disk: a run is stopped when free space falls below this.
const MIN_FREE_BYTES = 2 * 1024 ** 3;
const SINK_RUNS = Math.max(1, intEnv('BENCH_SINK_RUNS', 3));
const SIZES_KB = (process.env.BENCH_SIZES ?? (quick ? '10' : '1,10,100'))
  .split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const n = Number(s);
    if (!Number.isFinite(n) || n <= 0) die(`BENCH_SIZES: "${s}" is not a positive number of KB`);
    return n;
  });
const PROTECTION_MESSAGES = intEnv('BENCH_PROTECTION_MESSAGES', quick ? 100 : 300);
const PROTECTION_WITHOUT = (process.env.BENCH_PROTECTION_WITHOUT ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const SERVERS = (process.env.BENCH_SERVERS ?? 'smtp-sink,postern,postern+plugins,postern+protection')
  .split(',').map((s) => s.trim()).filter(Boolean);
for (const s of SERVERS) {
  if (!['smtp-sink', 'postern', 'postern+plugins', 'postern+protection'].includes(s)) die(`BENCH_SERVERS: unknown server "${s}"`);
}
const STRICT = process.env.BENCH_STRICT === '1';
const KEEP = process.env.BENCH_KEEP === '1';
const MODES = [
  { name: 'per-connection', flag: [] },
  { name: 'persistent', flag: ['-d'] },
];
// Postern's messages/second as a fraction of smtp-sink's, 10 KB messages.
const TARGETS = { 'persistent': 0.22, 'per-connection': 0.17 };
const TARGET_KB = 10;

function intEnv(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) die(`${name}: "${v}" is not a whole number`);
  return n;
}

function die(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

// ------------------------------------------------------------------------ child process tracking

const children = new Set();
function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
function killAll() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { killAll(); process.exit(130); });
}

// ------------------------------------------------------------------------------------ helpers

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Connect, read the greeting line; resolves with it or rejects. */
function greeting(port, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port });
    let buf = '';
    const done = (err, line) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err); else resolve(line);
    };
    const timer = setTimeout(() => done(new Error('no greeting')), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        const line = buf.slice(0, i).trim();
        if (/^220[ -]/.test(line) || /^220$/.test(line)) {
          // Be polite: say QUIT so the server does not log a dropped client.
          sock.write('QUIT\r\n');
          done(null, line);
        } else {
          done(new Error(`unexpected greeting: ${line}`));
        }
      }
    });
    sock.on('error', (e) => done(e));
    sock.on('close', () => done(new Error('closed before greeting')));
  });
}

/**
 * A tiny SMTP client: sends each command after the previous reply and returns the final reply
 * line of each step (greeting first).
 */
function smtpDialog(port, commands, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port });
    const replies = [];
    let buf = '';
    let step = 0;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`SMTP dialogue timed out after ${replies.length} replies`)); }, timeoutMs);
    sock.setEncoding('latin1');
    sock.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, '');
        buf = buf.slice(i + 1);
        if (/^\d{3}-/.test(line)) continue; // continuation of a multi-line reply
        replies.push(line);
        if (step < commands.length) {
          sock.write(`${commands[step++]}\r\n`);
        } else {
          clearTimeout(timer);
          sock.destroy();
          resolve(replies);
        }
      }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => { clearTimeout(timer); resolve(replies); });
  });
}

/** Poll until the port answers 220, or the child exits, or the timeout passes. */
async function waitReady(port, child, what, timeoutMs = 30000) {
  const start = Date.now();
  let last;
  while (Date.now() - start < timeoutMs) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (code ${child.exitCode}, signal ${child.signalCode}) before it answered 220`);
    }
    try {
      return await greeting(port);
    } catch (e) {
      last = e;
      await sleep(50);
    }
  }
  throw new Error(`${what} did not answer 220 on ${HOST}:${port} within ${timeoutMs} ms (${last?.message})`);
}

/** Fields of /proc/PID/status in KB (VmHWM, VmRSS), or null when the process is gone. */
function procStatus(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const get = (k) => {
      const m = text.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'));
      return m ? Number(m[1]) : null;
    };
    return { hwmKb: get('VmHWM'), rssKb: get('VmRSS') };
  } catch {
    return null;
  }
}

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(r.stdout?.trim()) || 100;
})();

/** CPU seconds (user + system) that PID has used so far, or null when it is gone. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ": state is field 3, utime field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Child pids of PID (a server that forks workers would show up here). */
function childPids(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch { return []; }
    });
  } catch {
    return [];
  }
}

/** Peak RSS (KB) of PID and, if any, its child processes (summed). */
function peakRssKb(pid) {
  const own = procStatus(pid)?.hwmKb ?? 0;
  const kids = childPids(pid).reduce((sum, c) => sum + (procStatus(c)?.hwmKb ?? 0), 0);
  return own + kids;
}

async function stopChild(child, what, timeoutMs = 15000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const t = await Promise.race([exited.then(() => 'exited'), sleep(timeoutMs).then(() => 'timeout')]);
  if (t === 'timeout') {
    console.error(`bench: ${what} (pid ${child.pid}) did not stop within ${timeoutMs} ms of SIGTERM; killing it`);
    child.kill('SIGKILL');
    await exited;
  }
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${(r.stdout ?? '').trim()}\n${(r.stderr ?? '').trim()}`.trim());
  }
  return r;
}

function fmt(n, digits = 0) {
  return n === null || n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits);
}

// ------------------------------------------------------------------------------- Postfix tools

function ensurePostfixTools() {
  if (existsSync(`${SBIN}/smtp-source`) && existsSync(`${SBIN}/smtp-sink`)) return;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    die(`${SBIN}/smtp-source is missing; install Postfix (apt-get install postfix) or run this as root`);
  }
  console.log('bench: smtp-source is missing; installing postfix');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('debconf-set-selections', [], { input: 'postfix postfix/main_mailer_type select No configuration\n', env });
  const install = () => spawnSync('apt-get', ['install', '-y', 'postfix'], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  let r = install();
  if (r.status !== 0) {
    console.log('bench: apt-get install failed; running apt-get update and trying again');
    run('apt-get', ['update'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    r = install();
  }
  if (r.status !== 0 || !existsSync(`${SBIN}/smtp-source`)) {
    die(`could not install postfix:\n${r.stderr}`);
  }
}

/** Run smtp-source once; resolves with { seconds, rate } or rejects on a non-zero exit or stderr output. */
function smtpSource(port, messages, sizeBytes, modeFlag) {
  const args = ['-s', String(SESSIONS), '-m', String(messages), '-l', String(sizeBytes),
    '-f', SENDER, '-t', USER, ...modeFlag, `${HOST}:${port}`];
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = track(spawn(`${SBIN}/smtp-source`, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stderr = '';
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    // Watchdog: bounded in time, and stopped if the disk is filling up (a runaway spool).
    let abort = null;
    const watchdog = setInterval(() => {
      const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
      let free = Infinity;
      try { const st = statfsSync(os.tmpdir()); free = st.bavail * st.bsize; } catch { /* no statfs */ }
      if (elapsed > TIMEOUT_SEC) abort = `did not finish within ${TIMEOUT_SEC} s (BENCH_TIMEOUT)`;
      else if (free < MIN_FREE_BYTES) abort = `stopped: only ${(free / 1024 ** 3).toFixed(1)} GiB free on ${os.tmpdir()} (is the server writing without end?)`;
      if (abort) { clearInterval(watchdog); child.kill('SIGKILL'); }
    }, 500);
    child.on('error', (e) => { clearInterval(watchdog); reject(e); });
    child.on('close', (code, signal) => {
      clearInterval(watchdog);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cmd = `smtp-source ${args.join(' ')}`;
      if (abort) {
        reject(new Error(`${cmd} ${abort}`));
      } else if (code !== 0) {
        reject(new Error(`${cmd} exited ${code ?? signal}: ${(stderr || stdout).trim().split('\n').slice(0, 10).join('\n')}`));
      } else if (stderr.trim()) {
        reject(new Error(`${cmd} printed to stderr: ${stderr.trim().split('\n').slice(0, 10).join('\n')}`));
      } else {
        resolve({ seconds, rate: messages / seconds });
      }
    });
  });
}

// ------------------------------------------------------------------------------------ smtp-sink

/** Starts smtp-sink; returns { port, child, delivered() } where delivered() reads its counter. */
async function startSink() {
  const port = await freePort();
  const child = track(spawn(`${SBIN}/smtp-sink`, ['-u', 'nobody', '-c', `${HOST}:${port}`, '1024'],
    { stdio: ['ignore', 'pipe', 'pipe'] }));
  // -c prints "sess=N quit=N mesg=N\r" per event; keep only the tail to read the last count.
  let tail = '';
  let stderr = '';
  child.stdout.setEncoding('latin1').on('data', (d) => { tail = (tail + d).slice(-256); });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  try {
    await waitReady(port, child, 'smtp-sink', 10000);
  } catch (e) {
    throw new Error(`${e.message}\n${stderr}`);
  }
  const delivered = () => {
    const all = [...tail.matchAll(/mesg=(\d+)/g)];
    return all.length ? Number(all[all.length - 1][1]) : 0;
  };
  return { port, child, delivered, stderr: () => stderr };
}

// -------------------------------------------------------------------------------------- Postern

function postern(args, cwd) {
  return run(process.execPath, [CLI, ...args], { cwd: cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The protection profile's module (TypeScript, loaded through tsx) and its running services. */
let protection = null;
let protectionServices = null;

function configYaml(port, profile, adminPort) {
  const plugins = profile === 'protection'
    ? protection.protectionYaml(protectionServices, adminPort, PROTECTION_WITHOUT)
    : profile === 'plugins'
    ? `plugins:
  access:
    enabled: true
    allow: { networks: [], senders: [] }
    deny: { networks: ["192.0.2.0/24"], senders: ["@spam.test"] }
  rate-limit: { enabled: true, limit: 1000000, windowSec: 60, key: ip }
`
    : `plugins:
  access: { enabled: false }
  rate-limit: { enabled: false }
`;
  return `# written by test/bench/smtp-throughput.mjs
hostname: ${DOMAIN}
dataDir: ./data
log: { level: warn }
smtp:
  maxMessageSize: 10485760
  socketTimeoutMs: 600000
  limits: { connectionsPerIp: 0, maxConnections: 0 }
  listeners:
    - { name: mx, host: ${HOST}, port: ${port}, tls: none, auth: none, earlyTalkerDelayMs: 0 }
${plugins}`;
}

/** A data folder with the bench.test domain and user@bench.test, made with the CLI. */
function preparePostern(label, profile) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `postern-bench-${label.replace(/\W+/g, '-')}-`));
  postern(['init', '--dir', dir, '--hostname', DOMAIN]);
  const config = path.join(dir, 'bench.yaml');
  // The port is rewritten before each start; 1 is a placeholder that the CLI commands below ignore.
  writeFileSync(config, configYaml(1, profile, 1));
  postern(['domain', 'add', DOMAIN, '--config', config]);
  postern(['user', 'add', USER, '--password', 'bench-secret-1', '--config', config]);
  const maildirNew = path.join(dir, 'data', 'mail', DOMAIN, 'user', 'new');
  const spoolDir = path.join(dir, 'data', 'spool');
  return { dir, config, maildirNew, spoolDir, profile, label };
}

function countNew(maildirNew) {
  try {
    return readdirSync(maildirNew).filter((f) => !f.startsWith('.')).length;
  } catch (e) {
    if (e.code === 'ENOENT') return 0;
    throw e;
  }
}

// Moves the previous scenario's messages aside instead of deleting them: thousands of unlinks
// right before a timed run make ext4 (without a journal, as here) scan its recently freed
// inodes on every file creation, which would charge the next scenario for the last one's cleanup.
let asideSeq = 0;
function emptyNew(maildirNew) {
  if (!existsSync(maildirNew)) return;
  renameSync(maildirNew, `${maildirNew}.done-${++asideSeq}`);
  mkdirSync(maildirNew);
}

let serverSeq = 0;
async function startPostern(inst) {
  const port = await freePort();
  const adminPort = inst.profile === 'protection' ? await freePort() : undefined;
  writeFileSync(inst.config, configYaml(port, inst.profile, adminPort));
  const logFile = path.join(inst.dir, `server-${++serverSeq}.log`);
  const fd = openSync(logFile, 'w');
  const child = track(spawn(process.execPath, [CLI, 'start', '--config', inst.config],
    { cwd: ROOT, stdio: ['ignore', fd, fd] }));
  closeSync(fd);
  try {
    await waitReady(port, child, `postern (${inst.label})`);
    if (inst.profile === 'protection') await protectionReady(port, adminPort);
    if (inst.profile === 'plugins') {
      // Prove the plugins are live: the access plugin's deny list must refuse this sender.
      const replies = await smtpDialog(port, ['EHLO probe.test', 'MAIL FROM:<probe@spam.test>', 'QUIT']);
      if (!/^5\d\d/.test(replies[2] ?? '')) {
        throw new Error(`the access plugin did not refuse MAIL FROM:<probe@spam.test> (replies: ${replies.join(' | ')})`);
      }
    }
  } catch (e) {
    await stopChild(child, 'postern');
    throw new Error(`${e.message}\n--- ${logFile}:\n${readLog(logFile).slice(-3000)}`);
  }
  return { port, child, logFile, adminPort };
}

/**
 * The protection plugins are all loaded, and the benchmark's one triplet (127.0.0.1, SENDER, USER)
 * has passed the greylist: its first RCPT is deferred, the retry after the wait accepted. The
 * scenarios of one profile share a data folder, so from the second on the triplet has passed.
 */
async function protectionReady(port, adminPort) {
  const loaded = await protection.fetchPluginNames(adminPort);
  const missing = protection.PROTECTION_PLUGINS.filter((p) => !PROTECTION_WITHOUT.includes(p) && !loaded.includes(p));
  if (missing.length) throw new Error(`protection plugins not loaded: ${missing.join(', ')} (loaded: ${loaded.join(', ')})`);
  const dialog = ['EHLO probe.bench.test', `MAIL FROM:<${SENDER}>`, `RCPT TO:<${USER}>`, 'QUIT'];
  const first = await smtpDialog(port, dialog);
  if (/^250/.test(first[3] ?? '')) return;
  if (!/^4\d\d/.test(first[3] ?? '')) throw new Error(`the greylist did not defer the first attempt (replies: ${first.join(' | ')})`);
  await sleep(protection.GREYLIST_IGNORE_SEC * 1000 + 300);
  const retry = await smtpDialog(port, dialog);
  if (!/^250/.test(retry[3] ?? '')) throw new Error(`the greylist did not pass the retry (replies: ${retry.join(' | ')})`);
}

function readLog(file) {
  try { return readFileSync(file, 'utf8'); } catch { return ''; }
}

/** Lines of a pino (JSON) or plain log at warn level or above. */
function logProblems(file) {
  const out = [];
  for (const line of readLog(file).split('\n')) {
    if (!line.trim()) continue;
    let level = null;
    try {
      const j = JSON.parse(line);
      level = typeof j.level === 'number' ? j.level : { warn: 40, error: 50, fatal: 60 }[j.level] ?? 30;
    } catch {
      level = /\b(warn|error|fatal|exception|uncaught)\b/i.test(line) ? 40 : 30;
    }
    if (level >= 40) out.push(line);
  }
  return out;
}

/** Wait until Maildir new/ holds `expected` files, or stops growing for `quietMs`. */
async function waitDelivered(maildirNew, expected, quietMs = 5000, capMs = 120000) {
  const t0 = Date.now();
  let last = countNew(maildirNew);
  let lastChange = Date.now();
  while (last < expected && Date.now() - lastChange < quietMs && Date.now() - t0 < capMs) {
    await sleep(20);
    const n = countNew(maildirNew);
    if (n !== last) { last = n; lastChange = Date.now(); }
  }
  return { count: last, drainSeconds: (Date.now() - t0) / 1000 };
}

/** Files left under DIR (recursively): what the spool still holds after a clean shutdown. */
function filesUnder(dir) {
  let n = 0;
  const walk = (d) => {
    let entries;
    try { entries = readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else n++;
    }
  };
  walk(dir);
  return n;
}

/** What the timed run alone added to the per-tap counters (the warm-up and probes subtracted). */
function tapsDuring(before, after) {
  return after.map((t) => {
    const b = before.find((x) => x.hook === t.hook && x.plugin === t.plugin);
    const calls = t.calls - (b?.calls ?? 0);
    const totalMs = t.totalMs - (b?.totalMs ?? 0);
    return { ...t, calls, failures: t.failures - (b?.failures ?? 0), totalMs, avgMs: calls > 0 ? totalMs / calls : 0 };
  }).sort((a, b) => b.totalMs - a.totalMs);
}

// ------------------------------------------------------------------------------ idle connections

async function openIdle(port, n) {
  const socks = [];
  const failures = [];
  const openOne = () => new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    let buf = '';
    const timer = setTimeout(() => { failures.push('no greeting within 10 s'); resolve(); }, 10000);
    sock.setEncoding('latin1');
    sock.on('data', (d) => {
      if (buf === null) return;
      buf += d;
      if (buf.includes('\n')) {
        clearTimeout(timer);
        if (!buf.startsWith('220')) failures.push(`greeting: ${buf.trim()}`);
        buf = null;
        resolve();
      }
    });
    sock.on('error', (e) => { clearTimeout(timer); failures.push(e.message); resolve(); });
    socks.push(sock);
  });
  // Open in batches so the listen backlog is never the bottleneck.
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, openOne));
  }
  return { socks, failures };
}

async function idleMemory(inst, n) {
  const srv = await startPostern(inst);
  try {
    // Warm up the code paths a connection uses, then let the heap settle.
    for (let i = 0; i < 20; i++) await greeting(srv.port);
    await sleep(1000);
    const before = procStatus(srv.child.pid).rssKb;
    const { socks, failures } = await openIdle(srv.port, n);
    await sleep(1000);
    const after = procStatus(srv.child.pid).rssKb;
    const closedEarly = socks.filter((s) => s.destroyed || s.readyState !== 'open').length;
    for (const s of socks) s.destroy();
    const ok = n - failures.length;
    return {
      connections: n, greeted: ok, failures: failures.slice(0, 5), closedEarly,
      rssBeforeKb: before, rssAfterKb: after,
      kbPerConnection: ok > 0 ? (after - before) / ok : null,
      peakRssKb: peakRssKb(srv.child.pid),
    };
  } finally {
    await stopChild(srv.child, 'postern');
  }
}

// ----------------------------------------------------------------------------------------- main

async function main() {
  ensurePostfixTools();
  const wantPostern = SERVERS.some((s) => s.startsWith('postern'));
  if (wantPostern && !existsSync(CLI)) {
    die(`${path.relative(ROOT, CLI)} is missing: run "npm run build" first (or use "npm run bench:smtp")`);
  }

  console.log(`Postern SMTP throughput benchmark — ${MESSAGES} messages per scenario, ${SESSIONS} parallel sessions, ` +
    `sizes ${SIZES_KB.map((k) => `${k} KB`).join(', ')}, servers ${SERVERS.join(', ')}`);
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ''}`.trim());

  if (SERVERS.includes('postern+protection')) {
    if (!process.execArgv.some((a) => a.includes('tsx')) && !process.env.NODE_OPTIONS?.includes('tsx')) {
      die('the postern+protection profile loads TypeScript: run with "node --import tsx" (npm run bench:smtp does)');
    }
    protection = await import('./protection-profile.ts');
    protectionServices = await protection.startProtectionServices(DOMAIN);
    console.log(`protection services: dnsmasq ${protectionServices.dnsServer}, clamd :${protectionServices.clamdPort}, spamd :${protectionServices.spamdPort}`);
  }
  const instances = {};
  if (SERVERS.includes('postern')) instances['postern'] = preparePostern('postern', 'bare');
  if (SERVERS.includes('postern+plugins')) instances['postern+plugins'] = preparePostern('postern+plugins', 'plugins');
  if (SERVERS.includes('postern+protection')) instances['postern+protection'] = preparePostern('postern+protection', 'protection');

  const results = [];
  const problems = [];
  let failed = false;

  for (const kb of SIZES_KB) {
    const sizeBytes = Math.round(kb * 1024);
    for (const mode of MODES) {
      for (const server of SERVERS) {
        const messages = server === 'postern+protection' ? PROTECTION_MESSAGES : MESSAGES;
        const warmup = server === 'postern+protection' ? Math.min(WARMUP, 50) : WARMUP;
        const row = { server, sizeKb: kb, mode: mode.name, sent: messages };
        results.push(row);
        process.stdout.write(`  ${server.padEnd(16)} ${String(kb).padStart(4)} KB  ${mode.name.padEnd(15)} … `);
        if (server === 'smtp-sink') {
          const runs = [];
          for (let i = 0; i < SINK_RUNS && !row.error; i++) {
            const sink = await startSink();
            try {
              const cpu0 = cpuSeconds(sink.child.pid);
              const r = await smtpSource(sink.port, MESSAGES, sizeBytes, mode.flag);
              await sleep(100); // let the counter line arrive
              const cpuMsPerMsg = ((cpuSeconds(sink.child.pid) - cpu0) * 1000) / MESSAGES;
              runs.push({ ...r, cpuMsPerMsg, delivered: sink.delivered(), peakRssKb: peakRssKb(sink.child.pid) });
            } catch (e) {
              row.error = e.message;
            } finally {
              await stopChild(sink.child, 'smtp-sink');
            }
          }
          if (!row.error) {
            // The median run by rate; every run must have delivered all its messages.
            const sorted = [...runs].sort((a, b) => a.rate - b.rate);
            Object.assign(row, sorted[Math.floor(sorted.length / 2)]);
            row.runs = runs.map((r) => Math.round(r.rate));
            row.delivered = Math.min(...runs.map((r) => r.delivered));
          }
        } else {
          const inst = instances[server];
          emptyNew(inst.maildirNew);
          let srv;
          try {
            srv = await startPostern(inst);
            // Warm-up, not timed: V8 compiles the hot path during the first few hundred messages,
            // a cost a long-running server pays once. (smtp-sink is C and needs none.)
            if (warmup > 0) {
              await smtpSource(srv.port, warmup, sizeBytes, mode.flag);
              await waitDelivered(inst.maildirNew, warmup);
              emptyNew(inst.maildirNew);
            }
            const tapsBefore = srv.adminPort ? await protection.fetchTimings(srv.adminPort) : undefined;
            const cpu0 = cpuSeconds(srv.child.pid);
            const r = await smtpSource(srv.port, messages, sizeBytes, mode.flag);
            Object.assign(row, r);
            const d = await waitDelivered(inst.maildirNew, messages);
            row.delivered = d.count;
            row.drainSeconds = d.drainSeconds;
            row.cpuMsPerMsg = ((cpuSeconds(srv.child.pid) - cpu0) * 1000) / messages;
            if (tapsBefore) {
              row.taps = tapsDuring(tapsBefore, await protection.fetchTimings(srv.adminPort));
              // The peer, right after on the same spamd: spamd alone, asked as the plugin asks.
              if (!PROTECTION_WITHOUT.includes('spamassassin')) row.spamdAlone = await protection.spamdAlone(protectionServices, messages, sizeBytes, SESSIONS);
            }
          } catch (e) {
            row.error = e.message;
            row.delivered = countNew(inst.maildirNew);
          } finally {
            if (srv) {
              row.peakRssKb = peakRssKb(srv.child.pid);
              const alive = srv.child.exitCode === null && srv.child.signalCode === null;
              if (!alive) row.error = (row.error ? `${row.error}; ` : '') + `server exited (${srv.child.exitCode ?? srv.child.signalCode})`;
              await stopChild(srv.child, 'postern');
              // After a clean shutdown with everything delivered, the spool should hold nothing
              // (a leftover is redelivered, idempotently, at the next start: not lost, but noted).
              const left = filesUnder(inst.spoolDir);
              if (left) {
                row.spoolLeft = left;
                problems.push({ scenario: `${server} ${kb} KB ${mode.name}`, log: inst.spoolDir, lines: [`${left} file(s) left in the spool after shutdown`] });
              }
              const lines = logProblems(srv.logFile);
              if (lines.length) {
                row.logProblems = lines.length;
                problems.push({ scenario: `${server} ${kb} KB ${mode.name}`, log: srv.logFile, lines: lines.slice(0, 5) });
              }
            }
          }
        }
        if (row.error) failed = true;
        if (row.delivered !== undefined && row.delivered !== row.sent) {
          failed = true;
          row.lost = true;
        }
        console.log(row.error ? `ERROR` : `${fmt(row.rate)} msg/s, ${row.delivered}/${row.sent} delivered`);
      }
    }
  }

  if (protectionServices) await protectionServices.stop();

  // Ratios to smtp-sink for the same size and mode.
  for (const row of results) {
    if (row.server === 'smtp-sink' || !row.rate) continue;
    const sink = results.find((r) => r.server === 'smtp-sink' && r.sizeKb === row.sizeKb && r.mode === row.mode);
    if (sink?.rate) row.ratio = row.rate / sink.rate;
  }

  let idle = null;
  if (IDLE > 0 && instances['postern']) {
    try {
      idle = await idleMemory(instances['postern'], IDLE);
      if (idle.greeted !== IDLE || idle.closedEarly) failed = true;
    } catch (e) {
      idle = { error: e.message };
      failed = true;
    }
  }

  // ----------------------------------------------------------------------------------- report
  console.log('');
  const head = ['server', 'size', 'mode', 'sent', 'delivered', 'seconds', 'msg/s', 'vs sink', 'peak RSS', 'drain s', 'CPU ms/msg'];
  const rows = results.map((r) => [
    r.server, `${r.sizeKb} KB`, r.mode, String(r.sent),
    r.delivered === undefined ? '-' : `${r.delivered}${r.lost ? ' LOST' : ''}`,
    fmt(r.seconds, 2), r.error ? 'ERROR' : fmt(r.rate), r.ratio === undefined ? '-' : fmt(r.ratio, 3),
    r.peakRssKb ? `${fmt(r.peakRssKb / 1024, 1)} MB` : '-',
    r.drainSeconds === undefined ? '-' : fmt(r.drainSeconds, 2),
    r.cpuMsPerMsg === undefined || Number.isNaN(r.cpuMsPerMsg) ? '-' : fmt(r.cpuMsPerMsg, 2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const right = new Set([3, 4, 5, 6, 7, 8, 9, 10]);
  const line = (cells) => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log('');
  console.log(`smtp-sink rows: median of ${SINK_RUNS} run(s)` + (SINK_RUNS > 1 ? ` (msg/s of each: ${results.filter((r) => r.runs).map((r) => `${r.sizeKb} KB ${r.mode} ${r.runs.join('/')}`).join('; ')})` : '') + ';');
  console.log('peak RSS: VmHWM of the server process (smtp-sink: of its process) at the end of the scenario;');
  console.log('delivered: smtp-sink\'s own counter, or the files in Postern\'s Maildir new/ for user@bench.test;');
  console.log('drain s: time after smtp-source finished until every message was in new/;');
  console.log('CPU ms/msg: user+system CPU time of the server process per message (Postern: until all were in new/);');
  console.log('  unlike msg/s it barely depends on what else the machine is doing.');

  console.log('');
  console.log(`Targets (${TARGET_KB} KB, Postern msg/s ÷ smtp-sink msg/s):`);
  let missed = false;
  // The protection profile has no target: its figures are for the per-plugin breakdown below.
  const targetRows = results.filter((r) => (r.server === 'postern' || r.server === 'postern+plugins') && r.sizeKb === TARGET_KB);
  if (!targetRows.length) console.log(`  (no ${TARGET_KB} KB Postern runs in this benchmark)`);
  for (const r of targetRows) {
    const target = TARGETS[r.mode];
    const ok = r.ratio !== undefined && r.ratio >= target;
    if (!ok) missed = true;
    const verdict = r.ratio === undefined ? 'not measured (no smtp-sink in this run)' : ok ? 'met' : 'MISSED';
    console.log(`  ${r.server.padEnd(16)} ${r.mode.padEnd(15)} ${fmt(r.ratio, 3).padStart(6)}  target ≥ ${target.toFixed(2)}  ${verdict}`);
  }

  const withTaps = results.filter((r) => r.taps);
  if (withTaps.length) {
    console.log('');
    console.log('Protection profile: where the time goes (per-tap timings of the timed run, from GET /api/plugins/timings).');
    console.log('avg ms: wall time of one call, waits on DNS, clamd and spamd included; ms/msg: that time per message;');
    console.log('share: of all tap time. Taps overlap across the parallel sessions, so ms/msg adds up to latency, not to CPU.');
    for (const r of withTaps) {
      const bare = results.find((b) => b.server === 'postern' && b.sizeKb === r.sizeKb && b.mode === r.mode);
      const vsBare = bare?.rate && r.rate ? `, ${fmt(r.rate / bare.rate, 3)} of Postern without plugins` : '';
      const alone = r.spamdAlone;
      console.log('');
      console.log(`  ${r.sizeKb} KB ${r.mode}: ${fmt(r.rate)} msg/s${vsBare}`);
      if (alone) {
        console.log(`  spamd alone (the same ${r.sent} messages, ${SESSIONS} in flight, SPAMC SYMBOLS): ${fmt(alone.rate, 1)} msg/s; ` +
          `Postern with every protection plugin reaches ${fmt(r.rate / alone.rate, 3)} of it`);
      }
      for (const l of protection.tapTable(r.taps, r.sent)) console.log(`    ${l}`);
    }
  }

  if (idle) {
    console.log('');
    if (idle.error) {
      console.log(`Idle connections: ERROR ${idle.error}`);
    } else {
      console.log(`Idle connections (Postern, no plugins): ${idle.greeted}/${idle.connections} greeted, ` +
        `RSS ${fmt(idle.rssBeforeKb / 1024, 1)} MB -> ${fmt(idle.rssAfterKb / 1024, 1)} MB, ` +
        `${fmt(idle.kbPerConnection, 1)} KB per idle connection` +
        (idle.closedEarly ? `, ${idle.closedEarly} closed by the server before the measurement` : '') +
        (idle.failures.length ? `; failures: ${idle.failures.join('; ')}` : ''));
    }
  }

  if (problems.length) {
    console.log('');
    console.log('Server problems (log lines at warn level or above; spool leftovers):');
    for (const p of problems) {
      console.log(`  ${p.scenario} (${p.log}):`);
      for (const l of p.lines) console.log(`    ${l.slice(0, 300)}`);
    }
  }

  const errors = results.filter((r) => r.error);
  if (errors.length) {
    console.log('');
    console.log('Errors:');
    for (const r of errors) console.log(`  ${r.server} ${r.sizeKb} KB ${r.mode}: ${r.error}`);
  }

  if (process.env.BENCH_JSON) {
    writeFileSync(process.env.BENCH_JSON, JSON.stringify({
      date: new Date().toISOString(), node: process.version, cpus: os.cpus().length,
      messages: MESSAGES, sessions: SESSIONS, sinkRuns: SINK_RUNS, sizesKb: SIZES_KB, servers: SERVERS,
      targets: TARGETS, results, idle,
    }, null, 2) + '\n');
  }

  if (KEEP) {
    for (const inst of Object.values(instances)) console.log(`kept ${inst.dir}`);
  } else {
    for (const inst of Object.values(instances)) rmSync(inst.dir, { recursive: true, force: true });
  }

  if (failed) {
    console.log('\nbench: FAILED (errors or lost messages above)');
    process.exitCode = 1;
  } else if (missed && STRICT) {
    console.log('\nbench: a target was missed (BENCH_STRICT=1)');
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(`bench: ${e.stack ?? e.message}`);
  killAll();
  process.exit(1);
});
