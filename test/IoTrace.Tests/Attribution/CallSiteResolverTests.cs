using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using IoTrace.Attribution;
using IoTrace.Tests.TestSupport;
using Xunit;

namespace IoTrace.Tests.Attribution;

public sealed class CallSiteResolverTests
{
    [Fact]
    public void ResolveFromStack_CalledFromTheTest_ReturnsTheTestLine()
    {
        var resolver = new CallSiteResolver(IoTraceStartOptions.DefaultSkippedNamespaces);

        var line = Here.Line(); var resolved = resolver.ResolveFromStack(new StackTrace(0, fNeedFileInfo: true));

        Assert.Equal(Here.File(), resolved.Site.File);
        Assert.Equal(line, resolved.Site.Line);
        Assert.Equal("IoTrace.Tests.Attribution.CallSiteResolverTests.ResolveFromStack_CalledFromTheTest_ReturnsTheTestLine", resolved.Site.Method);
        Assert.True(resolved.Site.IsApplication);
        Assert.False(resolved.InAsyncCallee);
    }

    [Fact]
    public void ResolveFromStack_HelperNamespaceSkipped_ReturnsTheLineThatCalledTheHelper()
    {
        var resolver = new CallSiteResolver([.. IoTraceStartOptions.DefaultSkippedNamespaces, "IoTrace.Tests.Attribution.Skipped."]);

        var line = Here.Line(); var resolved = Skipped.Helper.Capture(resolver);

        Assert.Equal(line, resolved.Site.Line);
    }

    [Fact]
    public void ResolveFromStack_SameLineTwice_ReturnsTheSameInternedInstance()
    {
        var resolver = new CallSiteResolver(IoTraceStartOptions.DefaultSkippedNamespaces);
        var sites = new List<SourceLocation>();

        for (var i = 0; i < 2; i++)
        {
            sites.Add(resolver.ResolveFromStack(new StackTrace(0, fNeedFileInfo: true)).Site);
        }

        Assert.Same(sites[0], sites[1]);
    }

    [Fact]
    public async Task ResolveFromStack_InsideAFrameworkAsyncMethod_SaysSo()
    {
        var resolver = new CallSiteResolver(IoTraceStartOptions.DefaultSkippedNamespaces);
        ResolvedCallSite? resolved = null;

        // The lambda runs inside Task.Run's machinery, not inside a framework async state machine.
        await Task.Run(() => resolved = resolver.ResolveFromStack(new StackTrace(0, fNeedFileInfo: true)), TestContext.Current.CancellationToken);

        Assert.False(resolved!.Value.InAsyncCallee);
    }

    [Fact]
    public void ResolveManaged_DynamicMethodOnTheStack_ResolvesTheApplicationLine()
    {
        // Minimal APIs and expression trees put DynamicMethods on the stack: they have no MethodHandle.
        var resolver = new CallSiteResolver(IoTraceStartOptions.DefaultSkippedNamespaces);
        var resolve = System.Linq.Expressions.Expression.Lambda<Func<ResolvedCallSite>>(
            System.Linq.Expressions.Expression.Call(System.Linq.Expressions.Expression.Constant(resolver), typeof(CallSiteResolver).GetMethod(nameof(CallSiteResolver.ResolveManaged))!)).Compile();

        var line = Here.Line(); var sites = Enumerable.Range(0, 2).Select(_ => resolve().Site).ToList();

        Assert.Equal(line, sites[0].Line);
        Assert.Same(sites[0], sites[1]);
    }

    [Fact]
    public void DisplayName_AsyncMethodStateMachine_IsTheMethodTheUserWrote()
    {
        var moveNext = typeof(Samples).GetMethod(nameof(Samples.LoadAsync))!.GetCustomAttribute<AsyncStateMachineAttribute>()!.StateMachineType.GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)!;

        Assert.Equal("IoTrace.Tests.Attribution.CallSiteResolverTests.Samples.LoadAsync", CallSiteResolver.DisplayName(moveNext));
    }

    [Fact]
    public void DisplayName_LambdaAndLocalFunction_NameTheEnclosingMethod()
    {
        var methods = typeof(Samples).GetNestedTypes(BindingFlags.NonPublic).SelectMany(t => t.GetMethods(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Concat(typeof(Samples).GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(CallSiteResolver.DisplayName)
            .ToHashSet();

        Assert.Contains("IoTrace.Tests.Attribution.CallSiteResolverTests.Samples.WithLambda (lambda)", methods);
        Assert.Contains("IoTrace.Tests.Attribution.CallSiteResolverTests.Samples.WithLocalFunction.Twice", methods);
    }

    internal static class Samples
    {
        public static async Task<int> LoadAsync()
        {
            await Task.Yield();
            return 1;
        }

        public static Func<int, int> WithLambda(int offset) => x => x + offset;

        public static int WithLocalFunction(int x)
        {
            return Twice(x);

            static int Twice(int y) => y * 2;
        }
    }
}
