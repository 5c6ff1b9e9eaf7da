namespace Analytics.Counting;

internal static class CountingExtensions
{
    public static IHostApplicationBuilder AddCounting(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CountingOptions>().BindConfiguration(CountingOptions.Section).ValidateOnStart()
            .Validate(o => o.MaxBufferedHits > 0, "Analytics:Counting:MaxBufferedHits must be positive.");
        builder.Services.AddSingleton<VisitorHasher>();
        builder.Services.AddSingleton<CounterWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CounterWriter>());
        return builder;
    }
}
