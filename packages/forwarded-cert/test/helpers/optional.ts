/**
 * Loads an optional peer dependency (express, fastify) if it is installed, so that the package's
 * build never depends on it. A specifier held in a variable keeps tsc from resolving the module.
 */
export async function importOptional(name: string): Promise<unknown> {
  try {
    const mod = (await import(name)) as { default?: unknown };
    return mod.default ?? mod;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}
