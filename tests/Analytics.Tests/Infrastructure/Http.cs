using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Analytics.Tests.Infrastructure;

internal static class Http
{
    public static StringContent Json(string json, string mediaType = "application/json") => new(json, Encoding.UTF8, mediaType);

    public static StringContent Json(object value) => new(JsonSerializer.Serialize(value, TestApp.Json), Encoding.UTF8, "application/json");

    /// <summary>Asserts a problem+json answer with this status that names <paramref name="field"/> (when given).</summary>
    public static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? field = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {status}, got {response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        if (field is not null)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"The problem does not name '{field}': {body}");
            Assert.Contains(field, problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        }

        return problem;
    }

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>();
}
