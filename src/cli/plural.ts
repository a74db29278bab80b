/** The CLI's counted nouns: `counted` lives in runtime, whose log lines count nouns too. */
export { counted } from '../runtime/plural.js';
