/**
 * Structured JSON logs (winston) on stderr, so stdout stays free for tables and YAML.
 * Child loggers carry the object's identity: logger.child({ controller, namespace, name }).
 * Level: ENTROPO_LOG_LEVEL (error, warn, info, debug); default info.
 */
import winston from 'winston';

export type Logger = winston.Logger;

export const logger: Logger = winston.createLogger({
  level: process.env.ENTROPO_LOG_LEVEL ?? 'info',
  format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] })],
});
