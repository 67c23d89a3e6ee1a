/**
 * Which copy of openrtc this process runs: 'src', the TypeScript sources (under tsx or vitest), or
 * 'dist', the build (an installed package always). A process starts its workers in the same mode,
 * so tests that run the sources never exercise a stale build.
 */
export const RUN_FROM: 'src' | 'dist' = import.meta.url.endsWith('.ts') ? 'src' : 'dist';
