namespace Analytics.Counting;

internal static class CountingExtensions
{
    public static IHostApplicationBuilder AddCounting(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CountingOptions>().BindConfiguration(CountingOptions.Section).ValidateOnStart()
            .Validate(o => o.MaxBufferedHits > 0, "Analytics:Counting:MaxBufferedHits must be positive.")
            .Validate(o => o.MaxWritesInFlight >= 1, "Analytics:Counting:MaxWritesInFlight must be 1 or more.")
            .Validate(o => o.RetryDelay > TimeSpan.Zero && o.MaxRetryDelay >= o.RetryDelay, "Analytics:Counting:RetryDelay must be positive and MaxRetryDelay no shorter.");
        builder.Services.AddSingleton<VisitorHasher>();
        builder.Services.AddSingleton<CounterWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CounterWriter>());
        return builder;
    }
}
