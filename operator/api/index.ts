export * from './common.ts';
export * from './kinds.ts';
export * from './records.ts';
export * from './termination-message.ts';
export { check, parse, parseResource, ValidationError, type FieldError, type Result } from './validate.ts';
