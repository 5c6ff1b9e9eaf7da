using System.Text.Json;

namespace Analytics.Infrastructure;

internal static class JsonDefaults
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
