/**
 * catalog — the service catalog: parameterised application templates (a spec with
 * `${params.x}` references and a JSON Schema of typed parameters) published by the
 * installation's administrator, ordered by tenants; every order is checked whole before
 * anything is created.
 */
export { createCatalog } from './service.js';
export type { CatalogService, CatalogOptions, TemplateInput, TemplateView, OrderView } from './service.js';
export { checkParametersSchema, resolveParams, sampleParams, shownParams, PARAMETER_NAME_PATTERN } from './params.js';
export type { ParametersSchema, ParamSchema, ParamValues } from './params.js';
export { renderTemplate, templateReferences, checkReferences } from './template.js';
