// Types of the addon's top-level exports (each class is typed in the binding file that wraps it).

/** What runtimeInfo() returns (native/napi/addon.cc). */
export interface NativeRuntimeInfo {
  version: string;
  torchVersion: string;
  cudaBuilt: boolean;
  cudaAvailable: boolean;
  cudaDevice: string;
  threads: number;
  blas: string;
}

export interface NativeTopLevel {
  version: string;
  runtimeInfo(): NativeRuntimeInfo;
  setNumThreads(threads: number): void;
  setErrorClass(cls: new (message: string, code: string) => Error): void;
  _throwForTest(kind: string): never;
}
