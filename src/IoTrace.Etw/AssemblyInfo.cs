[assembly: System.Reflection.AssemblyMetadata("IoTrace.Instrumentation", "true")]
