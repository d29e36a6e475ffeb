// The core skips frames of assemblies carrying this when it looks for the application line behind an IO call.
[assembly: System.Reflection.AssemblyMetadata("IoTrace.Instrumentation", "true")]
