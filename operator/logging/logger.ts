/**
 * Structured JSON logs (winston) on stderr, so stdout stays free for tables and YAML.
 * Child loggers carry the object's identity: logger.child({ controller, namespace, name }).
 * Level: ENTROPO_LOG_LEVEL (error, warn, info, debug); default info.
 */
import winston from 'winston';
import { Writable } from 'node:stream';

export type Logger = winston.Logger;

export const logger: Logger = winston.createLogger({
  level: process.env.ENTROPO_LOG_LEVEL ?? 'info',
  format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] })],
});

/**
 * Sends the log lines through `write` (e.g. a progress bar's log(), which prints them above the
 * bar) instead of straight to stderr, until the returned function restores stderr. Lines keep
 * their JSON form and end with a newline.
 */
export function routeLogs(write: (line: string) => void): () => void {
  const previous = logger.transports.slice();
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      const text = chunk.toString();
      write(text.endsWith('\n') ? text : `${text}\n`);
      done();
    },
  });
  const routed = new winston.transports.Stream({ stream });
  logger.clear();
  logger.add(routed);
  return () => {
    logger.remove(routed);
    for (const t of previous) logger.add(t);
  };
}
