using System.Text;
using System.Text.Json;

namespace IoTrace.AspNetCore.Logging;

/// <summary>
/// A report's aggregates as one JSON array, the <c>Aggregates</c> field of the request event. A string, because
/// sinks render other values inconsistently: some enumerate a list and print each item's type name.
/// </summary>
internal static class AggregatesJson
{
    public static string Write(IReadOnlyList<IoAggregate> aggregates)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var a in aggregates)
            {
                json.WriteStartObject();
                json.WriteString("probe", a.Probe);
                WriteOptional(json, "file", a.File);
                if (a.Line is { } line)
                {
                    json.WriteNumber("line", line);
                }

                WriteOptional(json, "method", a.Method);
                if (a.Fd is { } fd)
                {
                    json.WriteNumber("fd", fd);
                }

                WriteOptional(json, "target", a.Target);
                json.WriteNumber("calls", a.Calls);
                json.WriteNumber("bytes", a.Bytes);
                json.WriteNumber("timeMs", Math.Round(a.Time.TotalMilliseconds, 3));
                json.WriteNumber("cpuMs", Math.Round(a.Cpu.TotalMilliseconds, 3));
                json.WriteNumber("waitMs", Math.Round(a.Wait.TotalMilliseconds, 3));
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }
}
