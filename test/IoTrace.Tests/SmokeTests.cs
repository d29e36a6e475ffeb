using Xunit;

namespace IoTrace.Tests;

public class SmokeTests(ITestOutputHelper output)
{
    [Fact]
    public void Smoke()
    {
        var path = Path.GetTempFileName();
        File.WriteAllBytes(path, new byte[10000]);
        var report = IoTracer.Trace(Strategy.All, () =>
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
            var buf = new byte[4096];
            while (f.Read(buf) > 0) { }
        });
        output.WriteLine(report.ToString());
        var s = IoTracer.Trace(Strategy.Summary, () => File.ReadAllBytes(path));
        output.WriteLine(s.ToString());
        Assert.Equal(10000, report.TotalBytes);
    }
}
